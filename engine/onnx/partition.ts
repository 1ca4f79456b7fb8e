import type { onnx } from 'onnx-proto';

type Graph = onnx.IGraphProto;
type Node = onnx.INodeProto;

/** Nodes whose name lies under a module path, e.g. `up_blocks.2/resnets.0` (any export prefix). */
export function nodesUnder(g: Graph, modulePath: string): Node[] {
  const re = new RegExp(`(^|/)${modulePath.replace(/\./g, '\\.')}/`);
  return (g.node ?? []).filter((n) => re.test(n.name ?? ''));
}

/** Tensors a set of nodes reads that are produced by nodes outside the set. */
export function externalInputs(g: Graph, inside: Node[]): string[] {
  const mine = new Set(inside);
  const producer = producers(g);
  const out = new Set<string>();
  for (const n of inside) for (const i of n.input ?? []) {
    const p = producer.get(i);
    if (p && !mine.has(p)) out.add(i);
  }
  return [...out];
}

export function producers(g: Graph): Map<string, Node> {
  const m = new Map<string, Node>();
  for (const n of g.node ?? []) for (const o of n.output ?? []) m.set(o, n);
  return m;
}

const floatTensor = (name: string, rank: number): onnx.IValueInfoProto => ({
  name,
  type: { tensorType: { elemType: 1, shape: { dim: Array.from({ length: rank }, (_, i) => ({ dimParam: `${name}_d${i}` })) } } },
});

/** The graph plus `tensor` as an extra float output (the full UNet that also hands over its deep feature). */
export function withExtraOutput(model: onnx.IModelProto, tensor: string, rank: number): onnx.IModelProto {
  const g = model.graph!;
  return { ...model, graph: { ...g, output: [...(g.output ?? []), floatTensor(tensor, rank)] } };
}

/**
 * The graph with `tensor` turned into an input, and everything no longer needed to compute the
 * outputs pruned (nodes, initialisers, value infos). Original inputs are kept so callers feed the
 * same names.
 */
export function cutAt(model: onnx.IModelProto, tensor: string, rank: number): onnx.IModelProto {
  const g = model.graph!;
  const inputs = new Set([...(g.input ?? []).map((i) => i.name!), tensor]);
  const producer = producers(g);
  const keep = new Set<Node>();
  const needed = new Set<string>();
  const stack = (g.output ?? []).map((o) => o.name!);
  while (stack.length) {
    const t = stack.pop()!;
    if (needed.has(t)) continue;
    needed.add(t);
    if (inputs.has(t)) continue;
    const n = producer.get(t);
    if (!n || keep.has(n)) continue;
    keep.add(n);
    for (const i of n.input ?? []) if (i) stack.push(i);
    // subgraph attributes (If/Loop) read outer tensors too
    for (const a of n.attribute ?? []) if (a.g) for (const sub of a.g.node ?? []) for (const i of sub.input ?? []) stack.push(i);
  }
  return {
    ...model,
    graph: {
      ...g,
      node: (g.node ?? []).filter((n) => keep.has(n)),
      initializer: (g.initializer ?? []).filter((t) => needed.has(t.name!)),
      valueInfo: (g.valueInfo ?? []).filter((v) => needed.has(v.name!) && v.name !== tensor),
      input: [...(g.input ?? []), floatTensor(tensor, rank)],
    },
  };
}
