import { attr, attrInt, attrInts, makeAttr, OnnxGraph, prune, rewriteEach, withMicrosoftDomain, type Node, type Tensor } from './graph';
import type { ModelProto } from './model-proto';
import { INT64, isFloatType, readFloats, tensorValues, writeFloats } from './tensor-data';

/**
 * Rewrites exported scaled-dot-product attention into onnxruntime's fused contrib op
 * com.microsoft.MultiHeadAttention (query/key/value [B, S, hidden], num_heads, scale). The pattern
 * is the one torch.onnx.export (opset 17) emits for F.scaled_dot_product_attention, as diffusers'
 * AttnProcessor2_0 calls it:
 *
 *   q = Transpose(0,2,1,3)(Reshape(to_q, [B,-1,H,D]))        (· optional scalar Mul/Div)
 *   kᵀ = Transpose(0,2,3,1)(Reshape(to_k, [B,-1,H,D]))       (or two Transposes composing to it)
 *   v = Transpose(0,2,1,3)(Reshape(to_v, [B,-1,H,D]))
 *   out = Reshape(Transpose(0,2,1,3)(MatMul(Softmax(MatMul(q, kᵀ) · c), v)), [B,-1,H·D])
 *
 * Heads and scale are read by evaluating the (shape-dependent) constant subgraphs, so the fused
 * scale is the one the graph computed. Anything else (masks, other layouts) is left as exported
 * and reported with its reason.
 */
export interface FusedBlock {
  scope: string;
  kind: 'self' | 'cross';
  heads: number;
  scale: number;
}

export interface FusionReport {
  fused: FusedBlock[];
  /** Softmax nodes in attention scopes that were not fused, with why. */
  skipped: { scope: string; reason: string }[];
}

/** A small tensor value (shapes, scalars); NaN marks an unknown element (a dynamic dim). */
interface Value { data: number[]; float: boolean; openRank?: boolean }

const samePerm = (a: number[], b: number[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/** Module path of a node: its name without the last segment ("/m/.../attn1/Softmax" → "/m/.../attn1"). */
export const scopeOf = (n: Node) => (n.name ?? '').replace(/\/[^/]*$/, '');
/** Attention modules by diffusers/transformers naming: attn1, attn2, attentions.N, self_attn, ... */
export const isAttentionScope = (scope: string) => /(^|\/)[^/]*(attn|attention)[^/]*$/i.test(scope);

export function fuseAttention(model: ModelProto): { model: ModelProto; report: FusionReport } {
  const g = model.graph!;
  const report: FusionReport = { fused: [], skipped: [] };
  const replace = new Map<Node, Node>();
  const ctx = new Ctx(new OnnxGraph(g));
  for (const sm of g.node ?? []) {
    if (sm.opType !== 'Softmax' || !isAttentionScope(scopeOf(sm))) continue;
    try {
      const m = match(ctx, sm);
      replace.set(m.outNode, m.mha);
      report.fused.push(m.block);
    } catch (e) {
      report.skipped.push({ scope: scopeOf(sm), reason: (e as Error).message });
    }
  }
  if (!replace.size) return { model, report };
  const nodes = (g.node ?? []).map((n) => replace.get(n) ?? n);
  return { model: { ...model, opsetImport: withMicrosoftDomain(model), graph: prune({ ...g, node: nodes }) } as ModelProto, report };
}

class Ctx {
  /** Shapes known from the matched pattern (rank and the dims we can vouch for). */
  readonly shapes = new Map<string, number[]>();
  constructor(readonly g: OnnxGraph) {}
  prod(t: string, op?: string): Node {
    const n = this.g.producer(t);
    if (!n || (op && n.opType !== op)) throw new Error(`expected ${op ?? 'a node'} producing ${t}, found ${n?.opType ?? 'a graph input or weight'}`);
    return n;
  }
}

/** Follows one Q/K/V operand back to its projection: [scalar factors], Transposes, Reshape([B,S,H,D]). */
function operand(ctx: Ctx, t: string, perm: number[], what: string): { proj: string; reshape: Node; factors: Factor[] } {
  const factors: Factor[] = [];
  let n = ctx.prod(t);
  while (n.opType === 'Mul' || n.opType === 'Div') {
    const f = scalarFactor(ctx, n, t);
    factors.push(f);
    t = f.other;
    n = ctx.prod(t);
  }
  // compose Transposes down to the Reshape: their net permutation must be `perm`
  let net = [0, 1, 2, 3];
  while (n.opType === 'Transpose') {
    const p = attrInts(n, 'perm');
    net = net.map((i) => p[i]!);
    n = ctx.prod(n.input![0]!);
  }
  if (n.opType !== 'Reshape') throw new Error(`${what}: expected Reshape into heads before the Transpose, found ${n.opType}`);
  if (!samePerm(net, perm)) throw new Error(`${what}: heads are permuted [${net}], expected [${perm}]`);
  return { proj: n.input![0]!, reshape: n, factors };
}

interface Factor { node: Node; other: string; input: string; div: boolean }

/** A Mul/Div by a scalar computed from constants and shapes (the attention scale). */
function scalarFactor(ctx: Ctx, n: Node, from: string): Factor {
  const [a, b] = n.input as [string, string];
  if (n.opType === 'Div') return { node: n, other: a, input: b, div: true };
  const onA = !dependsOnData(ctx, a);
  return { node: n, other: onA ? b : a, input: onA ? a : b, div: false };
}

/** Whether a tensor depends on real activations (not only constants and shapes). */
function dependsOnData(ctx: Ctx, t: string, seen = new Set<string>()): boolean {
  if (seen.has(t) || ctx.g.initializer(t)) return false;
  seen.add(t);
  const n = ctx.g.producer(t);
  if (!n) return true;
  if (n.opType === 'Shape' || n.opType === 'Constant') return false;
  return (n.input ?? []).some((i) => i && dependsOnData(ctx, i, seen));
}

function match(ctx: Ctx, sm: Node): { outNode: Node; mha: Node; block: FusedBlock } {
  const axis = attrInt(sm, 'axis') ?? -1;
  if (axis !== -1 && axis !== 3) throw new Error(`Softmax over axis ${axis}, expected the last`);
  // scores = MatMul(q, kᵀ) · c  (c: optional scalar Mul/Div; Casts for upcast_softmax are transparent)
  const scoreFactors: Factor[] = [];
  let t = skipCasts(ctx, sm.input![0]!);
  let n = ctx.prod(t);
  while (n.opType === 'Mul' || n.opType === 'Div') {
    const f = scalarFactor(ctx, n, t);
    if (dependsOnData(ctx, f.input)) throw new Error(`scores are combined with a tensor (${n.opType} ${n.name}): masked or biased attention is not fused`);
    scoreFactors.push(f);
    t = skipCasts(ctx, f.other);
    n = ctx.prod(t);
  }
  if (n.opType !== 'MatMul') throw new Error(`Softmax reads ${n.opType} ${n.name}, expected MatMul(q, kᵀ) (masked or biased attention is not fused)`);
  const q = operand(ctx, n.input![0]!, [0, 2, 1, 3], 'query');
  const k = operand(ctx, n.input![1]!, [0, 2, 3, 1], 'key');
  // out = MatMul(softmax, v) → Transpose(0,2,1,3) → Reshape([B, S, H·D])
  const pv = ctx.g.consumers(sm.output![0]!).map((c) => (c.opType === 'Cast' ? ctx.g.consumers(c.output![0]!)?.[0] : c));
  if (pv.length !== 1 || pv[0]?.opType !== 'MatMul') throw new Error('attention probabilities feed something other than one MatMul with V');
  const mm = pv[0];
  const v = operand(ctx, mm.input![1]!, [0, 2, 1, 3], 'value');
  const tr = only(ctx, mm.output![0]!, 'Transpose');
  if (!samePerm(attrInts(tr, 'perm'), [0, 2, 1, 3])) throw new Error(`output heads are permuted [${attrInts(tr, 'perm')}], expected [0,2,1,3]`);
  const outNode = only(ctx, tr.output![0]!, 'Reshape');

  // heads from the Reshape targets; the last dim of each projection from its weight
  for (const o of [q, k, v]) ctx.shapes.set(o.proj, [NaN, NaN, projWidth(ctx, o.proj)]);
  const [hq, dq] = headsOf(ctx, q.reshape, 'query'), [hk, dk] = headsOf(ctx, k.reshape, 'key'), [hv, dv] = headsOf(ctx, v.reshape, 'value');
  if (hq !== hk || hq !== hv) throw new Error(`query/key/value split into ${hq}/${hk}/${hv} heads`);
  if (dq !== dk) throw new Error(`query and key head sizes differ (${dq} vs ${dk})`);
  const outShape = evaluate(ctx, outNode.input![1]!);
  if (outShape.data.length !== 3) throw new Error(`attention output is reshaped to rank ${outShape.data.length}, expected [B, S, H·D]`);
  // shapes of the head tensors, for the scale's Shape → Sqrt chain
  ctx.shapes.set(q.reshape.output![0]!, [NaN, NaN, hq, dq]);
  ctx.shapes.set(k.reshape.output![0]!, [NaN, NaN, hk, dk]);
  for (const f of q.factors) ctx.shapes.set(f.other, [NaN, hq, NaN, dq]);
  for (const f of k.factors) ctx.shapes.set(f.other, [NaN, hk, dk, NaN]);
  ctx.shapes.set(n.input![0]!, [NaN, hq, NaN, dq]);
  ctx.shapes.set(n.input![1]!, [NaN, hk, dk, NaN]);
  const scale = scaleOf(ctx, q.factors, k.factors, scoreFactors);
  if (!Number.isFinite(scale)) throw new Error('the attention scale does not evaluate to a constant');

  const scope = scopeOf(sm);
  const kind = q.proj === k.proj || sameSource(ctx, q.proj, k.proj) ? 'self' : 'cross';
  const mha: Node = {
    name: `${scope}/MultiHeadAttention`, opType: 'MultiHeadAttention', domain: 'com.microsoft',
    input: [q.proj, k.proj, v.proj], output: [outNode.output![0]!],
    attribute: [makeAttr('num_heads', { i: hq }), makeAttr('scale', { f: scale })],
  };
  return { outNode, mha, block: { scope, kind, heads: hq, scale } };
}

function only(ctx: Ctx, t: string, op: string): Node {
  const cs = ctx.g.consumers(t).filter((c) => c.opType !== 'Shape');
  if (cs.length !== 1 || cs[0]!.opType !== op) throw new Error(`expected ${op} after ${t}, found ${cs.map((c) => c.opType).join(', ') || 'nothing'}`);
  return cs[0]!;
}

function skipCasts(ctx: Ctx, t: string): string {
  for (let n = ctx.g.producer(t); n?.opType === 'Cast'; n = ctx.g.producer(t)) t = n.input![0]!;
  return t;
}

/** Projection width (H·D) from the weight of MatMul(x, W) (optionally + bias): [B, S, W.dims[1]]. */
function projWidth(ctx: Ctx, t: string): number {
  let n = ctx.g.producer(t);
  if (n?.opType === 'Add') n = (n.input ?? []).map((i) => ctx.g.producer(i)).find((p) => p?.opType === 'MatMul');
  if (n?.opType !== 'MatMul') return NaN;
  // weights stored in fp16 for size are read through a Cast
  const dims = ctx.g.weight(n.input![1]!)?.dims;
  return dims?.length === 2 ? Number(dims[1]) : NaN;
}

function headsOf(ctx: Ctx, reshape: Node, what: string): [number, number] {
  const s = evaluate(ctx, reshape.input![1]!).data;
  if (s.length !== 4 || !Number.isInteger(s[2]) || s[2]! <= 0) throw new Error(`${what}: the head split [${s}] does not name a constant head count`);
  return [s[2]!, s[3]!];
}

function sameSource(ctx: Ctx, a: string, b: string): boolean {
  const src = (t: string) => {
    let n = ctx.g.producer(t);
    if (n?.opType === 'Add') n = (n.input ?? []).map((i) => ctx.g.producer(i)).find((p) => p?.opType === 'MatMul');
    return n?.opType === 'MatMul' ? n.input![0] : t;
  };
  return src(a) === src(b);
}

/**
 * The product of the scalar factors on q, kᵀ and the scores. torch splits SDPA's scale s as
 * √s on q and √s on k: when both are Sqrt of one tensor, that tensor is s itself (exact, no
 * √s·√s rounding).
 */
function scaleOf(ctx: Ctx, qf: Factor[], kf: Factor[], sf: Factor[]): number {
  let scale = 1;
  const sqrtOf = (f: Factor) => {
    const p = ctx.g.producer(f.input);
    return !f.div && p?.opType === 'Sqrt' ? p.input![0] : undefined;
  };
  if (qf.length === 1 && kf.length === 1 && sqrtOf(qf[0]!) && sqrtOf(qf[0]!) === sqrtOf(kf[0]!)) {
    scale = scalar(ctx, sqrtOf(qf[0]!)!);
    qf = [];
    kf = [];
  }
  for (const f of [...qf, ...kf, ...sf]) {
    const x = scalar(ctx, f.input);
    scale = f.div ? scale / x : scale * x;
  }
  return Math.fround(scale);
}

function scalar(ctx: Ctx, t: string): number {
  const v = evaluate(ctx, t);
  if (v.data.length !== 1 || !Number.isFinite(v.data[0])) throw new Error(`the scale factor ${t} is not a constant scalar`);
  return v.data[0]!;
}

/** Evaluates shape/constant subgraphs (Constant, Shape, Gather, Slice, Cast, arithmetic, Concat). */
function evaluate(ctx: Ctx, t: string, memo = new Map<string, Value>()): Value {
  const hit = memo.get(t);
  if (hit) return hit;
  const init = ctx.g.initializer(t);
  if (init) return tensorValue(init);
  const n = ctx.g.producer(t);
  if (!n) throw new Error(`${t} is a graph input, not a constant`);
  const ev = (i: number) => evaluate(ctx, n.input![i]!, memo);
  const f32 = (v: Value, x: number) => (v.float ? Math.fround(x) : x);
  let out: Value;
  switch (n.opType) {
    case 'Constant': {
      const a = n.attribute![0]!;
      out = a.t ? tensorValue(a.t) : a.name === 'value_float' ? { data: [a.f ?? 0], float: true } : a.name === 'value_int' ? { data: [Number(a.i)], float: false } : { data: (a.ints ?? a.floats ?? []).map(Number), float: a.name === 'value_floats' };
      break;
    }
    case 'Shape': {
      const s = ctx.shapes.get(n.input![0]!);
      // an unknown shape still answers "dim i" with NaN (a dynamic dim) as long as i counts from the front
      if (!s) {
        if (attr(n, 'start') || attr(n, 'end')) throw new Error(`the shape of ${n.input![0]} is not known`);
        out = { data: [], float: false, openRank: true };
        break;
      }
      const r = s.length, norm = (x: number) => (x < 0 ? x + r : Math.min(x, r));
      const start = attr(n, 'start') ? norm(attrInt(n, 'start')!) : 0, end = attr(n, 'end') ? norm(attrInt(n, 'end')!) : r;
      out = { data: s.slice(start, end), float: false };
      break;
    }
    case 'Gather': {
      const d = ev(0), idx = ev(1);
      if ((attrInt(n, 'axis') ?? 0) !== 0) throw new Error(`Gather on axis ≠ 0 in ${n.name}`);
      if (d.openRank && idx.data.some((i) => i < 0)) throw new Error(`${n.name} reads a dim from the back of a shape of unknown rank`);
      out = { data: idx.data.map((i) => (d.openRank ? NaN : d.data[i < 0 ? i + d.data.length : i]!)), float: d.float };
      break;
    }
    case 'Slice': {
      const d = ev(0), s = ev(1).data[0]!, e = ev(2).data[0]!;
      if (d.openRank) throw new Error(`${n.name} slices a shape of unknown rank`);
      const r = d.data.length, clamp = (x: number) => Math.max(0, Math.min(r, x < 0 ? x + r : x));
      out = { data: d.data.slice(clamp(s), clamp(e)), float: d.float };
      break;
    }
    case 'Cast': {
      const d = ev(0), to = attrInt(n, 'to')!, float = isFloatType(to);
      out = { data: d.data.map((x) => (float ? (to === 1 ? Math.fround(x) : x) : Math.trunc(x))), float };
      break;
    }
    case 'Sqrt': case 'Reciprocal': case 'Identity': case 'Neg': {
      const d = ev(0);
      const fn = { Sqrt: Math.sqrt, Reciprocal: (x: number) => 1 / x, Identity: (x: number) => x, Neg: (x: number) => -x }[n.opType];
      out = { data: d.data.map((x) => f32(d, fn(x))), float: d.float };
      break;
    }
    case 'Mul': case 'Div': case 'Add': case 'Sub': case 'Pow': {
      const a = ev(0), b = ev(1), len = Math.max(a.data.length, b.data.length);
      const op = n.opType, float = a.float || b.float;
      const fn = (x: number, y: number) => op === 'Mul' ? x * y : op === 'Add' ? x + y : op === 'Sub' ? x - y : op === 'Pow' ? x ** y : float ? x / y : Math.trunc(x / y);
      out = { data: Array.from({ length: len }, (_, i) => f32({ data: [], float }, fn(a.data[a.data.length === 1 ? 0 : i]!, b.data[b.data.length === 1 ? 0 : i]!))), float };
      break;
    }
    case 'Unsqueeze': case 'Squeeze':
      out = ev(0);
      break;
    case 'Concat':
      out = { data: (n.input ?? []).flatMap((_, i) => ev(i).data), float: ev(0).float };
      break;
    default:
      throw new Error(`cannot evaluate ${n.opType} ${n.name} as a constant`);
  }
  memo.set(t, out);
  return out;
}

/** A constant's values (inline only: fusion reads small shape and scale constants, never weights). */
function tensorValue(t: Tensor): Value {
  return { data: Array.from(tensorValues(t)), float: isFloatType(t.dataType) };
}

export interface PackReport {
  packed: { scope: string; kind: 'qkv' | 'kv' }[];
  skipped: { scope: string; reason: string }[];
}

/**
 * MultiHeadAttention with packed projections, as onnxruntime's fusion_attention_unet.py emits for
 * its flash kernels (CUDA only; the CPU kernel refuses both layouts): self-attention's to_q/to_k/to_v
 * become one MatMul reshaped to query [B, S, N, 3, H]; cross-attention's to_k/to_v one MatMul
 * reshaped to key [B, L, N, 2, H] (value omitted). Weight columns are interleaved per head.
 * Runs on graphs `fuseAttention` already fused.
 */
export function packAttention(model: ModelProto, modelPath = ''): { model: ModelProto; report: PackReport } {
  const g = new OnnxGraph(model.graph!);
  const r = rewriteEach(model.graph!, (n) => n.opType === 'MultiHeadAttention' && n.domain === 'com.microsoft', (mha) => {
    const scope = scopeOf(mha), heads = attrInt(mha, 'num_heads')!;
    if ((mha.input ?? []).filter(Boolean).length !== 3) throw new Error('not separate query, key and value inputs');
    const [q, k, v] = mha.input!.map((t) => projection(g, t, modelPath));
    if (k!.x !== v!.x) throw new Error('key and value project different inputs');
    const self = q!.x === k!.x;
    const parts = self ? [q!, k!, v!] : [k!, v!];
    const { rows, cols, type, cast, x } = parts[0]!;
    if (parts.some((p) => p.cols !== cols || p.rows !== rows) || cols % heads) throw new Error(`projection widths ${parts.map((p) => p.cols)} do not split into ${heads} heads`);
    const name = `${scope}/${self ? 'to_qkv' : 'to_kv'}`;
    const weight: Tensor = { name: `${name}.weight`, dataType: type, dims: [rows, cols * parts.length] };
    writeFloats(weight, interleave(parts, heads));
    const shape: Tensor = { name: `${name}.shape`, dataType: INT64, dims: [5], int64Data: [0, 0, heads, parts.length, cols / heads] };
    // fp16-stored weights computed in fp32 keep their Cast
    const w = cast === undefined ? weight.name! : `${name}.weight_cast`;
    const nodes: Node[] = [
      ...(cast === undefined ? [] : [{ name: `${name}/Cast`, opType: 'Cast', input: [weight.name!], output: [w], attribute: [makeAttr('to', { i: cast })] }]),
      { name: `${name}/MatMul`, opType: 'MatMul', input: [x, w], output: [`${name}/MatMul_output_0`] },
      { name: `${name}/Reshape`, opType: 'Reshape', input: [`${name}/MatMul_output_0`, shape.name!], output: [`${name}/packed`] },
      { ...mha, input: self ? [`${name}/packed`] : [mha.input![0]!, `${name}/packed`] },
    ];
    return { last: mha, nodes, initializers: [weight, shape], fused: { scope, kind: self ? 'qkv' as const : 'kv' as const } };
  });
  const report = { packed: r.fused, skipped: r.skipped };
  return r.fused.length ? { model: { ...model, graph: r.graph } as ModelProto, report } : { model, report };
}

interface Projection { x: string; values: Float32Array; rows: number; cols: number; type: number; cast?: number }

/** MatMul(x, W) without bias (diffusers' to_q/to_k/to_v): its input and W [in, out] as fp32 values. */
function projection(g: OnnxGraph, t: string, modelPath: string): Projection {
  const mm = g.producer(t);
  if (mm?.opType !== 'MatMul') throw new Error(`${t} is not a MatMul projection (${mm?.opType ?? 'an input'})`);
  const w = g.weight(mm.input![1]!);
  if (!w || w.dims?.length !== 2) throw new Error(`${mm.name} has no 2-D weight`);
  const cast = g.producer(mm.input![1]!)?.opType === 'Cast' ? attrInt(g.producer(mm.input![1]!)!, 'to') : undefined;
  return { x: mm.input![0]!, values: readFloats(w, modelPath), rows: Number(w.dims[0]), cols: Number(w.dims[1]), type: Number(w.dataType), cast };
}

/** Columns ordered head by head: [W₀ head 0, W₁ head 0, (W₂ head 0), W₀ head 1, ...]. */
function interleave(parts: Projection[], heads: number): Float32Array {
  const rows = parts[0]!.rows, cols = parts[0]!.cols, hs = cols / heads, outCols = cols * parts.length;
  const out = new Float32Array(rows * outCols);
  for (let r = 0; r < rows; r++) {
    for (let h = 0; h < heads; h++) {
      for (const [j, p] of parts.entries()) {
        out.set(p.values.subarray(r * cols + h * hs, r * cols + (h + 1) * hs), r * outCols + (h * parts.length + j) * hs);
      }
    }
  }
  return out;
}
