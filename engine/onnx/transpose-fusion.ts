import { attrInts, makeAttr, producers, prune, type Graph, type Node } from './graph';

/** The layout changes the NHWC rewrites put around their ops. */
export const PERM_NHWC = [0, 2, 3, 1], PERM_NCHW = [0, 3, 1, 2];

/** A Transpose node from `input` to `output` with `perm`. */
export const transposeNode = (name: string, input: string, output: string, perm: number[]): Node => ({ name, opType: 'Transpose', input: [input], output: [output], attribute: [makeAttr('perm', { ints: perm })] });


/**
 * Transpose(p2) of Transpose(p1) with p2 ∘ p1 the identity is no transpose at all: readers of the
 * second take the first one's input, and the pair goes when nothing else reads it (onnxruntime's
 * fusion_transpose.py for the NHWC ⇄ NCHW pairs the NHWC rewrites leave between adjacent ops).
 * Repeated until no pair is left; graph outputs keep their producers.
 */
export function cancelTransposes(g: Graph): { graph: Graph; removed: number } {
  const before = count(g);
  for (;;) {
    const producer = producers(g);
    const outputs = new Set((g.output ?? []).map((o) => o.name!));
    const rename = new Map<string, string>();
    for (const t2 of g.node ?? []) {
      if (t2.opType !== 'Transpose' || outputs.has(t2.output![0]!)) continue;
      const t1 = producer.get(t2.input![0]!);
      if (t1?.opType !== 'Transpose') continue;
      const p1 = attrInts(t1, 'perm'), p2 = attrInts(t2, 'perm');
      // out[i] = in[p1[p2[i]]]: the identity when p1[p2[i]] = i for every axis
      if (p1.length && p1.length === p2.length && p2.every((a, i) => p1[a] === i)) rename.set(t2.output![0]!, t1.input![0]!);
    }
    if (!rename.size) break;
    const node = (g.node ?? []).map((n) => ({ ...n, input: (n.input ?? []).map((i) => rename.get(i) ?? i) }));
    g = prune({ ...g, node });
  }
  return { graph: g, removed: before - count(g) };
}

const count = (g: Graph) => (g.node ?? []).filter((n) => n.opType === 'Transpose').length;
