import { isAttentionScope, scopeOf } from './attention-fusion';
import { attr, attrInt, makeAttr, producers, type Attribute, type Graph, type Node, type Tensor, type ValueInfo } from './graph';
import { writeModel, type ModelProto } from './model-proto';
import { BFLOAT16, BOOL, bytesOf, elemCount, ExternalWriter, FLOAT, FLOAT16, INT64, isHalfType, readFloats, toHalf, type Half } from './tensor-data';

/**
 * fp32 ⇄ half (float16 / bfloat16) conversion of ONNX graphs, in the manner of onnxconverter-common's
 * float16.py: weights and float constants become half, ops that must stay fp32 are wrapped in
 * Casts, and the graph's inputs and outputs stay fp32 (Casts at the boundary) so callers feed the
 * same tensors. Node names are kept, so module-path tools (DeepCache) still find their scopes.
 */

/** onnxconverter-common's DEFAULT_OP_BLOCK_LIST: ops without half kernels, or that need float inputs. */
export const CONVERTER_BLOCK_LIST = [
  'ArrayFeatureExtractor', 'Binarizer', 'CastMap', 'CategoryMapper', 'DictVectorizer', 'FeatureVectorizer', 'Imputer',
  'LabelEncoder', 'LinearClassifier', 'LinearRegressor', 'Normalizer', 'OneHotEncoder', 'RandomUniformLike',
  'SVMClassifier', 'SVMRegressor', 'Scaler', 'TreeEnsembleClassifier', 'TreeEnsembleRegressor', 'ZipMap',
  'NonMaxSuppression', 'TopK', 'RoiAlign', 'Resize', 'Range', 'CumSum', 'Min', 'Max', 'Upsample',
];
/**
 * Ops whose half result is too coarse: Exp/Pow overflow past 65504, ReduceMean sums overflow
 * (decomposed norms), Sin/Cos of timestep × frequency lose the phase (ulp of 999 is 0.5 in fp16).
 */
export const SENSITIVE_OPS = ['Exp', 'Pow', 'ReduceMean', 'Sin', 'Cos'];
/** diffusers computes Timesteps (time_proj) in fp32 and casts the embedding itself; keep that. */
export const FP32_SCOPES = [/(^|\/)time_proj\//];

export interface HalfOptions {
  to?: Half;
  blockOps?: readonly string[];
  blockScopes?: readonly RegExp[];
  /**
   * diffusers' `upcast_attention` (SD 2.1's unet/config.json): the attention scores QKᵀ overflow
   * fp16 (|q·k| > 65504 gives inf, then NaN out of Softmax: black images), so diffusers computes
   * q·kᵀ and the softmax in fp32 and casts the probabilities back. Here the score MatMul, its scale
   * and the Softmax stay fp32, and fused MultiHeadAttention nodes stay fp32 whole (no kernel option
   * asks for fp32 accumulation).
   */
  upcastAttention?: boolean;
}

/** The nodes diffusers' upcast_attention computes in fp32: Softmax, its scale, the QKᵀ MatMul; fused attention whole. */
export function attentionScoreNodes(g: Graph): Set<Node> {
  const producer = producers(g), out = new Set<Node>();
  for (const n of g.node ?? []) {
    if (n.opType === 'MultiHeadAttention' || n.opType === 'Attention') out.add(n);
    if (n.opType !== 'Softmax' || !isAttentionScope(scopeOf(n))) continue;
    out.add(n);
    for (let p = producer.get(n.input![0]!); p; p = producer.get(p.input![0]!)) {
      if (!['Mul', 'Div', 'Cast', 'MatMul'].includes(p.opType!)) break;
      // a scale or cast after the MatMul (torch's SDPA export scales q and k before it instead)
      out.add(p);
      if (p.opType === 'MatMul') break;
    }
  }
  return out;
}

export interface ConversionStats {
  halfNodes: number;
  fp32Nodes: number;
  castsAdded: number;
  halfInitializers: number;
  fp32Initializers: number;
}

type Prec = 'f32' | 'half' | 'flex' | 'none';

/** Ops that only move data: they stay fp32 when fed fp32, rather than round for nothing. */
const MOVEMENT = new Set(['Identity', 'Reshape', 'Expand', 'Unsqueeze', 'Squeeze', 'Transpose', 'Slice', 'Gather', 'Concat', 'Flatten', 'Split', 'Tile', 'Where', 'Cast']);
/** Inputs that are fp32 whatever the node's type (ORT float16.py's ALWAYS_FLOAT_INPUTS). */
const ALWAYS_FLOAT: Record<string, number[]> = { Resize: [2], GroupNorm: [1, 2], SkipGroupNorm: [1, 2] };
const BOOL_OUT = new Set(['Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual', 'Not', 'And', 'Or', 'Xor', 'IsNaN', 'IsInf']);
const INT64_OUT = new Set(['Shape', 'Size', 'NonZero', 'ArgMax', 'ArgMin']);

const num = (v: unknown): number => Number(v ?? 0);

/** Element types of every tensor, from the graph's inputs and initializers through each op's typing rule. */
export function elemTypes(g: Graph): Map<string, number> {
  const t = new Map<string, number>();
  for (const i of g.input ?? []) t.set(i.name!, num(i.type?.tensorType?.elemType));
  for (const i of g.initializer ?? []) t.set(i.name!, num(i.dataType));
  for (const n of g.node ?? []) {
    const ins = n.input ?? [], outs = n.output ?? [];
    const first = t.get(ins[0] ?? '');
    const set = (k: number, v: number | undefined) => outs[k] && v !== undefined && t.set(outs[k]!, v);
    switch (n.opType) {
      case 'Cast': set(0, attrInt(n, 'to') ?? 0); break;
      case 'CastLike': set(0, t.get(ins[1]!)); break;
      case 'Constant': {
        const a = n.attribute?.[0];
        set(0, a?.t ? num(a.t.dataType) : a?.name?.startsWith('value_float') ? FLOAT : a?.name?.startsWith('value_int') ? INT64 : undefined);
        break;
      }
      case 'ConstantOfShape': set(0, attr(n, 'value')?.t ? num(attr(n, 'value')!.t!.dataType) : FLOAT); break;
      case 'Where': set(0, t.get(ins[1]!)); break;
      case 'OneHot': set(0, t.get(ins[2]!)); break;
      case 'RandomNormal': case 'RandomUniform': case 'EyeLike': set(0, attrInt(n, 'dtype') ?? (n.opType === 'EyeLike' ? first : FLOAT)); break;
      case 'LayerNormalization': set(0, first); set(1, FLOAT); set(2, FLOAT); break;
      case 'TopK': case 'MaxPool': set(0, first); set(1, INT64); break;
      case 'Dropout': set(0, first); set(1, BOOL); break;
      default:
        if (BOOL_OUT.has(n.opType!)) set(0, BOOL);
        else if (INT64_OUT.has(n.opType!)) set(0, INT64);
        else outs.forEach((_, k) => set(k, first));
    }
  }
  return t;
}

/**
 * Converts an fp32 model to half precision, keeping its inputs and outputs fp32. Initializers stored
 * as external data are read from beside `srcPath`; half weights of externally stored tensors are
 * written to `<dst>.data` (so multi-GB UNets stay under protobuf's 2 GB), others inline.
 */
export function convertToHalf(model: ModelProto, srcPath: string, dstPath: string, opts: HalfOptions = {}): ConversionStats {
  const to = opts.to ?? FLOAT16;
  const blockOps = new Set(opts.blockOps ?? [...CONVERTER_BLOCK_LIST, ...SENSITIVE_OPS]);
  const scopes = opts.blockScopes ?? FP32_SCOPES;
  const upcast = opts.upcastAttention ? attentionScoreNodes(model.graph!) : new Set<Node>();
  const g = model.graph!;
  for (const n of g.node ?? []) {
    if ((n.attribute ?? []).some((a) => a.g || a.graphs?.length)) {
      throw new Error(`${srcPath}: node ${n.name} (${n.opType}) has a subgraph; half-precision conversion does not handle control flow (If/Loop/Scan)`);
    }
  }
  const types = elemTypes(g);
  const isFloat = (x: string) => x !== '' && types.get(x) === FLOAT;
  const graphInputs = new Set((g.input ?? []).map((i) => i.name!));
  // an initializer that is also a graph input (old IRs: an overridable default) keeps the input's type
  const inits = new Map((g.initializer ?? []).filter((t) => !graphInputs.has(t.name!)).map((t) => [t.name!, t]));
  const prec = new Map<Node, Prec>();
  const producer = producers(g);
  const tensorPrec = (x: string): Prec => (graphInputs.has(x) ? 'f32' : inits.has(x) ? 'flex' : prec.get(producer.get(x)!) ?? 'none');

  // 1. each node's precision, in graph (topological) order
  for (const n of g.node ?? []) {
    const floatIn = (n.input ?? []).filter(isFloat), floatOut = (n.output ?? []).filter(isFloat);
    let p: Prec;
    if (!floatIn.length && !floatOut.length) p = 'none';
    else if (blockOps.has(n.opType!) || upcast.has(n) || scopes.some((r) => r.test(n.name ?? ''))) p = 'f32';
    else if (n.opType === 'Constant') p = 'flex';
    else if (MOVEMENT.has(n.opType!)) {
      const fed = floatIn.map(tensorPrec).filter((q) => q !== 'flex');
      p = fed.length && fed.every((q) => q === 'f32') ? 'f32' : 'half';
    } else p = 'half';
    prec.set(n, p);
  }

  // 2. flexible sources (initializers, Constants) follow their consumers: half only if nobody needs fp32
  const need = new Map<string, Set<Prec>>();
  const require = (x: string, q: Prec) => (need.get(x) ?? need.set(x, new Set()).get(x)!).add(q);
  for (const n of g.node ?? []) {
    (n.input ?? []).forEach((x, k) => {
      if (!isFloat(x) || n.opType === 'Cast') return;
      require(x, ALWAYS_FLOAT[n.opType!]?.includes(k) ? 'f32' : prec.get(n)!);
    });
  }
  for (const o of g.output ?? []) require(o.name!, 'f32');
  const flexHalf = (x: string) => {
    const q = need.get(x);
    return !!q && q.has('half') && !q.has('f32');
  };
  for (const n of g.node ?? []) if (prec.get(n) === 'flex') prec.set(n, flexHalf(n.output![0]!) ? 'half' : 'f32');

  // 3. rewrite: Casts where a float tensor crosses precisions, half attributes inside half nodes
  const halfName = to === FLOAT16 ? 'fp16' : 'bf16';
  const outRename = new Map<string, string>();
  for (const o of g.output ?? []) {
    const p = producer.get(o.name!);
    if (p && prec.get(p) === 'half' && isFloat(o.name!)) outRename.set(o.name!, `${o.name}_${halfName}`);
  }
  const rename = (x: string) => outRename.get(x) ?? x;
  const isHalf = (x: string): boolean => {
    if (inits.has(x)) return flexHalf(x);
    const p = producer.get(x);
    return !!p && prec.get(p) === 'half';
  };
  const casts = new Map<string, string>();
  const nodes: Node[] = [];
  let castsAdded = 0;
  const castTo = (x: string, target: number): string => {
    const key = `${x}\0${target}`;
    let out = casts.get(key);
    if (!out) {
      out = `${rename(x)}/to_${target === FLOAT ? 'fp32' : halfName}`;
      nodes.push({ name: out, opType: 'Cast', input: [rename(x)], output: [out], attribute: [makeAttr('to', { i: target })] });
      casts.set(key, out);
      castsAdded++;
    }
    return out;
  };
  for (const n of g.node ?? []) {
    const p = prec.get(n)!;
    const input = (n.input ?? []).map((x, k) => {
      if (!isFloat(x) || n.opType === 'Cast') return rename(x);
      const wantHalf = p === 'half' && !ALWAYS_FLOAT[n.opType!]?.includes(k);
      if (wantHalf === isHalf(x)) return rename(x);
      return castTo(x, wantHalf ? to : FLOAT);
    });
    const node: Node = { ...n, input, output: (n.output ?? []).map(rename) };
    if (p === 'half') node.attribute = (n.attribute ?? []).map((a) => halfAttribute(n, a, to));
    // ConstantOfShape's default value is an fp32 zero; a half one must say so
    if (p === 'half' && n.opType === 'ConstantOfShape' && !attr(n, 'value')) node.attribute = [makeAttr('value', { t: { dims: [1], dataType: to, rawData: new Uint8Array(2) } })];
    nodes.push(node);
  }
  for (const [orig, tmp] of outRename) {
    nodes.push({ name: `${orig}/to_fp32`, opType: 'Cast', input: [tmp], output: [orig], attribute: [makeAttr('to', { i: FLOAT })] });
    castsAdded++;
  }

  // 4. weights: half where every consumer is half, read from and written to external data as stored
  const data = new ExternalWriter(`${dstPath}.data`);
  let halfInitializers = 0;
  const initializer = (g.initializer ?? []).map((t) => {
    if (t.dataType !== FLOAT || !inits.has(t.name!) || !flexHalf(t.name!)) return t;
    halfInitializers++;
    const half = toHalfBits(readFloats(t, srcPath), to);
    const out: Tensor = { name: t.name, dims: t.dims, dataType: to };
    return t.dataLocation === 1 ? data.put(out, half) : { ...out, rawData: bytesOf(half) };
  });
  const valueInfo = (g.valueInfo ?? []).map((v) =>
    isFloat(v.name!) && isHalf(v.name!) ? { ...v, type: { tensorType: { ...v.type!.tensorType!, elemType: to } } } : v,
  );
  data.close();
  writeModel(dstPath, { ...model, graph: { ...g, node: nodes, initializer, valueInfo } });
  const counts = [...prec.values()];
  return {
    halfNodes: counts.filter((p) => p === 'half').length, fp32Nodes: counts.filter((p) => p === 'f32').length, castsAdded,
    halfInitializers, fp32Initializers: (g.initializer ?? []).filter((t) => t.dataType === FLOAT).length - halfInitializers,
  };
}

/** A half node's attributes: Cast targets, Constant/ConstantOfShape values and random dtypes become half. */
function halfAttribute(n: Node, a: Attribute, to: Half): Attribute {
  if (n.opType === 'Cast' && a.name === 'to' && num(a.i) === FLOAT) return { ...a, i: to };
  if (a.name === 'dtype' && num(a.i) === FLOAT) return { ...a, i: to };
  if (a.t && a.t.dataType === FLOAT) return { ...a, t: { name: a.t.name, dims: a.t.dims, dataType: to, rawData: bytesOf(toHalfBits(readFloats(a.t, ''), to)) } };
  if (n.opType === 'Constant' && a.name === 'value_float') return makeAttr('value', { t: { dataType: to, rawData: bytesOf(toHalfBits(Float32Array.of(a.f ?? 0), to)) } });
  if (n.opType === 'Constant' && a.name === 'value_floats') return makeAttr('value', { t: { dims: [a.floats!.length], dataType: to, rawData: bytesOf(toHalfBits(Float32Array.from(a.floats!), to)) } });
  return a;
}

/**
 * Upcasts every half tensor of a model to fp32 (weights, constants, Cast targets, value infos and
 * the graph's own inputs/outputs): for providers without half kernels. Values are exact (half ⊂ fp32).
 */
export function convertToFloat(model: ModelProto, srcPath: string, dstPath: string): number {
  const g = model.graph!;
  const data = new ExternalWriter(`${dstPath}.data`);
  let upcast = 0;
  const tensor = (t: Tensor, external: boolean): Tensor => {
    if (!isHalfType(t.dataType)) return t;
    upcast++;
    const f = readFloats(t, srcPath);
    const out: Tensor = { name: t.name, dims: t.dims, dataType: FLOAT };
    return external && t.dataLocation === 1 ? data.put(out, f) : { ...out, rawData: bytesOf(f) };
  };
  const vi = (v: ValueInfo) => (isHalfType(v.type?.tensorType?.elemType) ? { ...v, type: { tensorType: { ...v.type!.tensorType!, elemType: FLOAT } } } : v);
  const node = (n: Node): Node => ({
    ...n,
    attribute: (n.attribute ?? []).map((a) => {
      if ((a.name === 'to' || a.name === 'dtype') && isHalfType(a.i)) return { ...a, i: FLOAT };
      if (a.t && isHalfType(a.t.dataType)) return { ...a, t: tensor(a.t, false) };
      return a;
    }),
  });
  const graph = {
    ...g, node: (g.node ?? []).map(node), initializer: (g.initializer ?? []).map((t) => tensor(t, true)),
    input: (g.input ?? []).map(vi), output: (g.output ?? []).map(vi), valueInfo: (g.valueInfo ?? []).map(vi),
  };
  data.close();
  writeModel(dstPath, { ...model, graph });
  return upcast;
}

/**
 * fp16 weights, fp32 compute: every fp32 initializer rounded to its nearest half value (saturating
 * as convertToHalf does) but stored as fp32, the graph otherwise untouched. For providers without
 * half kernels, this is the part of fp16's effect on the image that survives fp32 arithmetic.
 */
export function roundWeights(model: ModelProto, srcPath: string, dstPath: string, to: Half = FLOAT16): number {
  const g = model.graph!;
  const data = new ExternalWriter(`${dstPath}.data`);
  let rounded = 0;
  const initializer = (g.initializer ?? []).map((t) => {
    if (t.dataType !== FLOAT) return t;
    rounded++;
    const f = halfBitsToFloat(toHalfBits(readFloats(t, srcPath), to), to);
    const out: Tensor = { name: t.name, dims: t.dims, dataType: FLOAT };
    return t.dataLocation === 1 ? data.put(out, f) : { ...out, rawData: bytesOf(f) };
  });
  data.close();
  writeModel(dstPath, { ...model, graph: { ...g, initializer } });
  return rounded;
}

const halfBitsToFloat = (bits: Uint16Array, to: Half): Float32Array =>
  readFloats({ dataType: to, rawData: bytesOf(bits) }, '');

/**
 * Whether a graph computes in half precision: half inputs or outputs (a text encoder's inputs are
 * token ids), or more half weights feeding ops directly than fp32 weights. Half weights read only
 * through a Cast to fp32 (exports that store fp16 to save space) still compute in fp32; a Cast to
 * half (TorchScript's type promotion) does not make them fp32.
 */
export function computesInHalf(model: ModelProto): boolean {
  const g = model.graph!;
  if ([...(g.input ?? []), ...(g.output ?? [])].some((i) => isHalfType(i.type?.tensorType?.elemType))) return true;
  const direct = new Set((g.node ?? []).filter((n) => n.opType !== 'Cast' || attrInt(n, 'to') !== FLOAT).flatMap((n) => n.input ?? []));
  let fp32 = 0, half = 0;
  for (const t of g.initializer ?? []) {
    const n = elemCount(t);
    if (t.dataType === FLOAT) fp32 += 4 * n;
    else if (isHalfType(t.dataType) && direct.has(t.name!)) half += 2 * n;
  }
  return half > fp32;
}

/**
 * fp32 → half bits, saturating like ORT's float16 tool (|x| > 65504 → ±65504, tiny non-zeros →
 * the smallest subnormal) instead of inf/0; bfloat16 rounds to nearest even (its range is fp32's).
 */
export function toHalfBits(x: Float32Array, to: Half): Uint16Array {
  if (to === BFLOAT16) {
    const u = new Uint32Array(x.buffer, x.byteOffset, x.length), out = new Uint16Array(x.length);
    for (let i = 0; i < u.length; i++) {
      const v = u[i]!;
      out[i] = Number.isNaN(x[i]) ? 0x7fc0 : (v + 0x7fff + ((v >>> 16) & 1)) >>> 16;
    }
    return out;
  }
  const c = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!, a = Math.abs(v);
    c[i] = a > 65504 && a !== Infinity ? Math.sign(v) * 65504 : a > 0 && a < 5.96e-8 ? Math.sign(v) * 5.96e-8 : v;
  }
  return toHalf(c);
}

