import { attrInts, constantValues, OnnxGraph, prune, rewriteEach, topoSort, type Graph, type Node } from './graph';
import type { ModelProto } from './model-proto';
import { PERM_NCHW, PERM_NHWC, transposeNode } from './transpose-fusion';

/**
 * A residual Add feeding an NHWC GroupNorm (as ./group-norm-fusion makes them) becomes onnxruntime's
 * com.microsoft.SkipGroupNorm (CUDA kernels only), as fusion_skip_group_norm.py does:
 *
 *   Add(a, b) → Transpose(0,2,3,1) → GroupNorm   becomes   SkipGroupNorm(a', γ, β, b') [→ sum]
 *
 * where a', b' are the NHWC forms (an NCHW input that is itself a Transpose of NHWC is read before
 * it; others get a Transpose). A time embedding broadcast as Unsqueeze(Gemm(·), [2, 3]) is fed as
 * the (N, C) skip the op accepts. When the Add's result has other readers (the next residual),
 * SkipGroupNorm's second output (the sum, NHWC) feeds them through a Transpose back. GroupNorm's
 * attributes (groups, epsilon, activation, channels_last) carry over. diffusers' residual
 * `/ output_scale_factor` with the factor 1 is dropped first (onnx_model_unet's remove_useless_div).
 */
export interface SkipGroupNormReport {
  fused: { scope: string; broadcast: boolean; sum: boolean }[];
  skipped: { scope: string; reason: string }[];
}

const isPerm = (n: Node | undefined, p: number[]) => n?.opType === 'Transpose' && attrInts(n, 'perm').join() === p.join();

export function fuseSkipGroupNorm(model: ModelProto, modelPath = ''): { model: ModelProto; report: SkipGroupNormReport } {
  const graph = removeDivByOne(model.graph!, modelPath);
  const g = new OnnxGraph(graph);
  const outputs = new Set((graph.output ?? []).map((o) => o.name!));
  const used = new Set<Node>();
  const r = rewriteEach(graph, (n) => n.opType === 'GroupNorm' && n.domain === 'com.microsoft', (gn) => {
    const scope = (gn.name ?? '').replace(/\/GroupNorm$/, '');
    const tr = g.parent(gn, 0, 'Transpose');
    if (!isPerm(tr, PERM_NHWC) || g.consumers(tr!.output![0]!).length !== 1) throw new Error('the GroupNorm does not read its own NCHW→NHWC Transpose');
    const add = g.parent(tr!, 0, 'Add');
    if (!add) throw new Error('the GroupNorm input is not an Add');
    if (used.has(add)) throw new Error('the Add already feeds another SkipGroupNorm');
    const nodes: Node[] = [];
    const ins = add.input!.map((t, k) => nhwcOperand(g, t, `${scope}/SkipGroupNorm/in${k}`, nodes));
    if (ins.some((i) => i === undefined)) throw new Error('an Add input is a constant or a broadcast other than a time embedding (not a residual)');
    const bcast = ins.findIndex((i) => i!.broadcast);
    if (ins.every((i) => i!.broadcast)) throw new Error('both Add inputs are broadcasts');
    const skip = bcast >= 0 ? bcast : 1;
    const readers = g.consumers(add.output![0]!).filter((c) => c !== tr);
    const sum = readers.length > 0 || outputs.has(add.output![0]!);
    const sumOut = `${scope}/SkipGroupNorm/sum_nhwc`;
    nodes.push({
      name: `${scope}/SkipGroupNorm`, opType: 'SkipGroupNorm', domain: 'com.microsoft',
      input: [ins[1 - skip]!.name, gn.input![1]!, gn.input![2]!, ins[skip]!.name], output: [gn.output![0]!, ...(sum ? [sumOut] : [])], attribute: gn.attribute,
    });
    if (sum) nodes.push(transposeNode(`${scope}/SkipGroupNorm/SumToNchw`, sumOut, add.output![0]!, PERM_NCHW));
    used.add(add);
    return { last: gn, nodes, fused: { scope, broadcast: bcast >= 0, sum } };
  });
  const report = { fused: r.fused, skipped: r.skipped };
  if (!r.fused.length) return { model, report };
  // the sum's Transpose now produces the Add's output: the Add goes, and its readers may sit before the norm
  const node = r.graph.node!.filter((n) => !used.has(n));
  return { model: { ...model, graph: topoSort(prune({ ...r.graph, node })) } as ModelProto, report };
}

/** One Add input in NHWC: read before its NHWC→NCHW Transpose, the (N, C) of a broadcast time embedding, or transposed. */
function nhwcOperand(g: OnnxGraph, t: string, name: string, nodes: Node[]): { name: string; broadcast: boolean } | undefined {
  const p = g.producer(t);
  if (!p || p.opType === 'Constant' || g.initializer(t)) return undefined;
  if (isPerm(p, PERM_NCHW)) return { name: p.input![0]!, broadcast: false };
  if (p.opType === 'Unsqueeze' || p.opType === 'Expand' || p.opType === 'Reshape') {
    const emb = timeEmbedding(g, p);
    return emb ? { name: emb, broadcast: true } : undefined;
  }
  nodes.push(transposeNode(name, t, `${name}/nhwc`, PERM_NHWC));
  return { name: `${name}/nhwc`, broadcast: false };
}

/** Unsqueeze(Unsqueeze(e, [2]), [3]) or Unsqueeze(e, [2, 3]) of a Gemm's [N, C] output: e. */
function timeEmbedding(g: OnnxGraph, n: Node): string | undefined {
  const axes: number[] = [];
  while (n.opType === 'Unsqueeze') {
    const a = n.input![1] ? constantValues(g, n.input![1]) : undefined;
    if (!a) return undefined;
    axes.unshift(...a);
    const p = g.producer(n.input![0]!);
    if (!p) return undefined;
    if (p.opType === 'Gemm') return axes.join() === '2,3' ? n.input![0]! : undefined;
    n = p;
  }
  return undefined;
}

/** Div(x, 1) readers read x (the residual's output_scale_factor of 1.0, exported as a Div). */
function removeDivByOne(graph: Graph, modelPath: string): Graph {
  const g = new OnnxGraph(graph);
  const outputs = new Set((graph.output ?? []).map((o) => o.name!));
  const rename = new Map<string, string>();
  for (const n of g.nodes) {
    if (n.opType !== 'Div' || outputs.has(n.output![0]!)) continue;
    const v = constantValues(g, n.input![1]!, modelPath);
    if (v?.length === 1 && v[0] === 1) rename.set(n.output![0]!, n.input![0]!);
  }
  if (!rename.size) return graph;
  return prune({ ...graph, node: g.nodes.map((n) => ({ ...n, input: (n.input ?? []).map((i) => rename.get(i) ?? i) })) });
}
