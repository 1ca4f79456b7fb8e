import type { onnx } from 'onnx-proto';
import { tensorValues } from './tensor-data';

/**
 * The one graph helper, in the manner of onnxruntime's OnnxModel (transformers/onnx_model.py):
 * producers and consumers of each tensor, attribute get/set, initializer lookup (through the Casts
 * of fp16-stored weights), and pruning of what no graph output needs. Rewrites build new node
 * lists and hand them to `prune`; an OnnxGraph indexes one graph as it was given.
 * Tensor values (fp32/fp16/bf16 and external data) are read by ./tensor-data.
 */
export type Graph = onnx.IGraphProto;
export type Node = onnx.INodeProto;
export type Tensor = onnx.ITensorProto;
export type Attribute = onnx.IAttributeProto;
export type ValueInfo = onnx.IValueInfoProto;

/** AttributeProto.AttributeType values, by the field that holds the value. */
const ATTR_TYPE = { f: 1, i: 2, s: 3, t: 4, g: 5, floats: 6, ints: 7, strings: 8, tensors: 9, graphs: 10 } as const;
type AttrValue = { [K in keyof typeof ATTR_TYPE]: Pick<Attribute, K> }[keyof typeof ATTR_TYPE];

export const attr = (n: Node, name: string): Attribute | undefined => (n.attribute ?? []).find((a) => a.name === name);
/** An INT attribute as a number (protobufjs gives int64 as Long or number). */
export const attrInt = (n: Node, name: string): number | undefined => (attr(n, name)?.i == null ? undefined : Number(attr(n, name)!.i));
export const attrInts = (n: Node, name: string): number[] => (attr(n, name)?.ints ?? []).map(Number);

/** An attribute for `value` (its type from the field given), as onnx.helper.make_attribute builds it. */
export function makeAttr(name: string, value: AttrValue): Attribute {
  const field = Object.keys(value)[0] as keyof typeof ATTR_TYPE;
  return { name, type: ATTR_TYPE[field], ...value };
}

/** A graph input or output's declaration: element type, and its dims where given (a string names a free one). */
export const valueInfo = (name: string, elemType: number, dims?: readonly (number | string)[]): ValueInfo => ({
  name, type: { tensorType: { elemType, ...(dims ? { shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } : {}) } },
});

/** Sets (replacing or adding) one attribute of a node, in place. */
export function setAttr(n: Node, name: string, value: AttrValue): void {
  const rest = (n.attribute ?? []).filter((a) => a.name !== name);
  n.attribute = [...rest, makeAttr(name, value)];
}

export function producers(g: Graph): Map<string, Node> {
  const m = new Map<string, Node>();
  for (const n of g.node ?? []) for (const o of n.output ?? []) m.set(o, n);
  return m;
}

export function consumers(g: Graph): Map<string, Node[]> {
  const m = new Map<string, Node[]>();
  for (const n of g.node ?? []) for (const i of n.input ?? []) (m.get(i) ?? m.set(i, []).get(i)!).push(n);
  return m;
}

/** One graph's indexes, built once: who produces and reads each tensor, initializers by name. */
export class OnnxGraph {
  private readonly prod: Map<string, Node>;
  private readonly cons: Map<string, Node[]>;
  private readonly inits: Map<string, Tensor>;

  constructor(readonly graph: Graph) {
    this.prod = producers(graph);
    this.cons = consumers(graph);
    this.inits = new Map((graph.initializer ?? []).map((t) => [t.name!, t]));
  }

  get nodes(): Node[] {
    return this.graph.node ?? [];
  }

  producer(tensor: string): Node | undefined {
    return this.prod.get(tensor);
  }

  consumers(tensor: string): Node[] {
    return this.cons.get(tensor) ?? [];
  }

  initializer(name: string): Tensor | undefined {
    return this.inits.get(name);
  }

  /** The initializer a tensor is, or is a Cast of (fp16 storage, fp32 compute). */
  weight(tensor: string): Tensor | undefined {
    const hit = this.inits.get(tensor);
    if (hit) return hit;
    const n = this.prod.get(tensor);
    return n?.opType === 'Cast' ? this.inits.get(n.input![0]!) : undefined;
  }

  /** The node producing input `i` of `n`, if it is an `op` (OnnxModel.get_parent). */
  parent(n: Node, i: number, op?: string): Node | undefined {
    const p = this.prod.get(n.input?.[i] ?? '');
    return p && (!op || p.opType === op) ? p : undefined;
  }
}

/** Tensors a node reads, its subgraphs' (If/Loop bodies) reads of outer tensors included. */
function reads(n: Node): string[] {
  const sub = (n.attribute ?? []).flatMap((a) => [...(a.g ? [a.g] : []), ...(a.graphs ?? [])]);
  return [...(n.input ?? []), ...sub.flatMap((g) => (g.node ?? []).flatMap(reads))].filter(Boolean);
}

/**
 * The graph keeping only what its outputs need (nodes, initializers, value infos), in their
 * order; `inputs` are extra tensors treated as fed (a cut point), so what produced them goes too.
 * Graph inputs are kept as they are, so callers feed the same names (OnnxModel.prune_graph).
 */
export function prune(g: Graph, inputs: readonly string[] = []): Graph {
  const fed = new Set([...(g.input ?? []).map((i) => i.name!), ...inputs]);
  const producer = producers(g);
  const keep = new Set<Node>();
  const needed = new Set<string>();
  const stack = (g.output ?? []).map((o) => o.name!);
  while (stack.length) {
    const t = stack.pop()!;
    if (needed.has(t)) continue;
    needed.add(t);
    const n = fed.has(t) ? undefined : producer.get(t);
    if (!n || keep.has(n)) continue;
    keep.add(n);
    stack.push(...reads(n));
  }
  return {
    ...g,
    node: (g.node ?? []).filter((n) => keep.has(n)),
    initializer: (g.initializer ?? []).filter((t) => needed.has(t.name!)),
    valueInfo: (g.valueInfo ?? []).filter((v) => needed.has(v.name!) && !inputs.includes(v.name!)),
  };
}

/** The graph without `nodes` (and whatever only they needed): OnnxModel.remove_nodes + prune_graph. */
export function removeNodes(g: Graph, nodes: Iterable<Node>): Graph {
  const drop = new Set(nodes);
  return prune({ ...g, node: (g.node ?? []).filter((n) => !drop.has(n)) });
}

export interface WeightNode {
  /** Module path with dots, as the model's state dict names it (e.g. down_blocks.0.attentions.0.proj_in). */
  module: string;
  op: 'MatMul' | 'Gemm' | 'Conv';
  /** The weight initializer and how it is laid out: MatMul stores Wᵀ [in, out]; Gemm per transB; Conv [out, in, kh, kw]. */
  tensor: Tensor;
  transposed: boolean;
}

/**
 * Weight-bearing nodes by module path, read from node names (`/prefix/down_blocks.0/.../to_q/MatMul`).
 * Export prefixes (`/m/`, `/text_model/`) are dropped, so lookups work for any wrapper.
 */
export function weightNodes(g: Graph): Map<string, WeightNode> {
  const graph = new OnnxGraph(g);
  const out = new Map<string, WeightNode>();
  for (const n of graph.nodes) {
    const op = n.opType as WeightNode['op'];
    if (op !== 'MatMul' && op !== 'Gemm' && op !== 'Conv') continue;
    const w = op === 'MatMul' ? n.input!.find((i) => graph.weight(i)) : n.input![1];
    const tensor = w ? graph.weight(w) : undefined;
    if (!tensor) continue;
    const parts = (n.name ?? '').split('/').filter(Boolean).slice(0, -1);
    if (parts.length === 0) continue;
    const transposed = op === 'MatMul' || (op === 'Gemm' && (attrInt(n, 'transB') ?? 0) === 0);
    out.set(parts.join('.'), { module: parts.join('.'), op, tensor, transposed });
  }
  return out;
}

/** What one match of a fusion replaces its anchor's pattern with. */
export interface Replacement<F> {
  /** The node whose outputs the new nodes produce (the pattern's last node): they take its place. */
  last: Node;
  nodes: Node[];
  initializers?: Tensor[];
  fused: F;
}

/**
 * The loop of every fusion (onnxruntime's Fusion.apply): for each anchor node, `match` either
 * returns what replaces the pattern or throws why it does not apply; the replaced patterns are
 * then pruned away. Returns the graph unchanged when nothing matched.
 */
export function rewriteEach<F>(g: Graph, anchor: (n: Node) => boolean, match: (n: Node) => Replacement<F>): { graph: Graph; fused: F[]; skipped: { scope: string; reason: string }[] } {
  const fused: F[] = [], skipped: { scope: string; reason: string }[] = [];
  const replaced = new Map<Node, Node[]>(), inits: Tensor[] = [];
  for (const n of g.node ?? []) {
    if (!anchor(n)) continue;
    try {
      const r = match(n);
      replaced.set(r.last, r.nodes);
      inits.push(...(r.initializers ?? []));
      fused.push(r.fused);
    } catch (e) {
      skipped.push({ scope: (n.name ?? '').replace(/\/[^/]*$/, ''), reason: (e as Error).message });
    }
  }
  if (!replaced.size) return { graph: g, fused, skipped };
  const node = (g.node ?? []).flatMap((n) => replaced.get(n) ?? [n]);
  return { graph: prune({ ...g, node, initializer: [...(g.initializer ?? []), ...inits] }), fused, skipped };
}

/** The model's opset imports with com.microsoft added (every contrib-op rewrite needs it). */
export function withMicrosoftDomain(model: onnx.IModelProto): onnx.IOperatorSetIdProto[] {
  const ops = [...(model.opsetImport ?? [])];
  if (!ops.some((o) => o.domain === 'com.microsoft')) ops.push({ domain: 'com.microsoft', version: 1 });
  return ops;
}

/** A constant's values: an initializer or a Constant node's tensor. */
export function constantValues(g: OnnxGraph, t: string, modelPath = ''): number[] | undefined {
  const init = g.initializer(t);
  if (init) return Array.from(tensorValues(init, modelPath));
  const n = g.producer(t);
  const a = n?.opType === 'Constant' ? n.attribute?.find((x) => x.name === 'value') : undefined;
  return a?.t ? Array.from(tensorValues(a.t, modelPath)) : undefined;
}


/**
 * Nodes in topological order, stable (an ordered graph comes back as it was): fusions that give a
 * pattern's value a new producer (SkipGroupNorm's sum output) may place it after a reader.
 */
export function topoSort(g: Graph): Graph {
  const producer = producers(g), seen = new Set<Node>(), out: Node[] = [];
  for (const root of g.node ?? []) {
    // iterative DFS (a UNet's chains are thousands deep): a node is emitted once its producers are
    const stack: [Node, boolean][] = [[root, false]];
    while (stack.length) {
      const [n, ready] = stack.pop()!;
      if (ready) { out.push(n); continue; }
      if (seen.has(n)) continue;
      seen.add(n);
      stack.push([n, true]);
      for (const i of reads(n).reverse()) {
        const p = producer.get(i);
        if (p && !seen.has(p)) stack.push([p, false]);
      }
    }
  }
  return { ...g, node: out };
}
