import type { onnx } from 'onnx-proto';
import { elemTypes } from './fp16';
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

/** A tensor's element type: its value_info if the graph has one, else inferred from its producers. */
export function elemTypeOf(g: Graph, tensor: string): number {
  const declared = (g.valueInfo ?? []).find((v) => v.name === tensor)?.type?.tensorType?.elemType;
  const type = declared ? Number(declared) : elemTypes(g).get(tensor);
  if (!type) throw new Error(`tensor "${tensor}" has no value_info and no producer whose output type can be inferred`);
  return type;
}

const tensorInfo = (g: Graph, name: string, rank: number): onnx.IValueInfoProto => ({
  name,
  type: { tensorType: { elemType: elemTypeOf(g, name), shape: { dim: Array.from({ length: rank }, (_, i) => ({ dimParam: `${name}_d${i}` })) } } },
});

/** The graph plus `tensor` as an extra output of its own type (the full UNet that also hands over its deep feature). */
export function withExtraOutput(model: onnx.IModelProto, tensor: string, rank: number): onnx.IModelProto {
  const g = model.graph!;
  return { ...model, graph: { ...g, output: [...(g.output ?? []), tensorInfo(g, tensor, rank)] } };
}

/**
 * The graph with `tensor` turned into an input of its own type, and everything no longer needed
 * to compute the outputs pruned (nodes, initialisers, value infos). Original inputs are kept so
 * callers feed the same names.
 */
export function cutAt(model: onnx.IModelProto, tensor: string, rank: number): onnx.IModelProto {
  const info = tensorInfo(model.graph!, tensor, rank);
  const g = prune(model.graph!, [tensor]);
  return { ...model, graph: { ...g, input: [...(g.input ?? []), info] } };
}

/** The Concat an up-block resnet reads its (hidden, skip) pair from: input 0 the hidden state, input 1 the down path's skip. */
export function skipConcat(g: Graph, upBlock: number, resnet: number): Node | undefined {
  const producer = producers(g);
  return externalInputs(g, nodesUnder(g, `up_blocks.${upBlock}/resnets.${resnet}`)).map((t) => producer.get(t)!).find((n) => n.opType === 'Concat');
}

/** Indices N seen in node names as `<prefix>.N/` (e.g. up_blocks, or up_blocks.0/resnets). */
export function moduleIndices(g: Graph, prefix: string): number[] {
  const re = new RegExp(`(?:^|/)${prefix.replace(/\./g, '\\.')}\\.(\\d+)/`, 'g');
  const seen = new Set((g.node ?? []).flatMap((n) => [...(n.name ?? '').matchAll(re)].map((m) => Number(m[1]))));
  return [...seen].sort((a, b) => a - b);
}
