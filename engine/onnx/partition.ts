import type { onnx } from 'onnx-proto';
import { producers, prune, type Graph, type Node } from './graph';

export { producers };

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
  const g = prune(model.graph!, [tensor]);
  return { ...model, graph: { ...g, input: [...(g.input ?? []), floatTensor(tensor, rank)] } };
}
