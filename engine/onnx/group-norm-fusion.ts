import { scopeOf } from './attention-fusion';
import { constantValues, makeAttr, OnnxGraph, rewriteEach, withMicrosoftDomain, type Node, type Tensor } from './graph';
import type { ModelProto } from './model-proto';
import { FLOAT, readFloats, writeFloats } from './tensor-data';
import { PERM_NCHW, PERM_NHWC, transposeNode } from './transpose-fusion';

/**
 * nn.GroupNorm as torch.onnx.export emits it, rewritten into onnxruntime's com.microsoft.GroupNorm
 * (CUDA/ROCm kernels only), the way onnxruntime's fusion_group_norm.py does:
 *
 *   Reshape(x, [0, G, -1]) → InstanceNormalization(scale 1, bias 0, ε) → Reshape(·, Shape(x))
 *     → Mul(γ[C,1,1]) → Add(β[C,1,1])  [→ Sigmoid + Mul: SiLU, folded in as activation=1]
 *
 * becomes Transpose(NCHW→NHWC) → GroupNorm(groups G, epsilon ε, activation, channels_last 1) →
 * Transpose(NHWC→NCHW). γ and β become float32 [C] vectors, whatever the graph's precision: the
 * CUDA kernel reads them as float ("GroupNorm only supports gamma and beta in float type", H200,
 * fp16 folder). Node names keep the norm's module path (DeepCache cuts by them).
 */
export interface GroupNormReport {
  fused: { scope: string; groups: number; silu: boolean }[];
  skipped: { scope: string; reason: string }[];
}

export function fuseGroupNorm(model: ModelProto, modelPath = ''): { model: ModelProto; report: GroupNormReport } {
  const g = new OnnxGraph(model.graph!);
  const r = rewriteEach(model.graph!, (n) => n.opType === 'InstanceNormalization', (inorm) => {
    const scope = scopeOf(inorm), m = match(g, inorm, modelPath);
    const gamma = vector(`${scope}/GroupNorm.gamma`, m.gamma), beta = vector(`${scope}/GroupNorm.beta`, m.beta);
    const nhwc = `${scope}/GroupNorm/nhwc_in`, y = `${scope}/GroupNorm/nhwc_out`;
    const nodes: Node[] = [
      transposeNode(`${scope}/GroupNorm/ToNhwc`, m.x, nhwc, PERM_NHWC),
      {
        name: `${scope}/GroupNorm`, opType: 'GroupNorm', domain: 'com.microsoft', input: [nhwc, gamma.name!, beta.name!], output: [y],
        attribute: [makeAttr('groups', { i: m.groups }), makeAttr('epsilon', { f: m.epsilon }), makeAttr('activation', { i: m.silu ? 1 : 0 }), makeAttr('channels_last', { i: 1 })],
      },
      transposeNode(`${scope}/GroupNorm/ToNchw`, y, m.last.output![0]!, PERM_NCHW),
    ];
    return { last: m.last, nodes, initializers: [gamma, beta], fused: { scope, groups: m.groups, silu: m.silu } };
  });
  const report = { fused: r.fused, skipped: r.skipped };
  return r.fused.length ? { model: { ...model, opsetImport: withMicrosoftDomain(model), graph: r.graph } as ModelProto, report } : { model, report };
}

/** The exporter shares equal initializers through Identity nodes (γ = 1 of several norms). */
const skipIdentity = (g: OnnxGraph, t: string): string => {
  for (let n = g.producer(t); n?.opType === 'Identity'; n = g.producer(t)) t = n.input![0]!;
  return t;
};
const weightThrough = (g: OnnxGraph, t: string) => g.weight(skipIdentity(g, t));

function only(g: OnnxGraph, t: string, op: string): Node {
  const cs = g.consumers(t).filter((c) => c.opType !== 'Shape');
  if (cs.length !== 1 || cs[0]!.opType !== op) throw new Error(`expected one ${op} after ${t}, found ${cs.map((c) => c.opType).join(', ') || 'nothing'}`);
  return cs[0]!;
}

interface Match { x: string; last: Node; groups: number; epsilon: number; silu: boolean; gamma: Float32Array; beta: Float32Array }

/**
 * What onnxruntime's CUDA GroupNorm kernel (group_norm_impl.cu, 1.29) runs: it reads 2 channels a
 * thread, so a group needs an even count of channels, and a block holds at most 512 of them; anything
 * else fails at run time ("GroupNorm in CUDA does not support the input", seen on the embedded model's
 * 32 channels in 32 groups). The norm is left unfused, with the reason.
 */
export function cudaGroupNormSupports(channels: number, groups: number): string | undefined {
  const perGroup = channels / groups;
  if (perGroup % 2) return `${channels} channels in ${groups} groups: CUDA's GroupNorm needs an even count of channels per group (${perGroup})`;
  if (perGroup > 512) return `${channels} channels in ${groups} groups: CUDA's GroupNorm takes at most 512 channels per group (${perGroup})`;
  return undefined;
}

function match(g: OnnxGraph, inorm: Node, modelPath: string): Match {
  const r1 = g.parent(inorm, 0, 'Reshape');
  if (!r1) throw new Error('InstanceNormalization does not read a Reshape into groups');
  const target = constantValues(g, r1.input![1]!, modelPath);
  if (!target || target.length !== 3 || target[0] !== 0 || target[2] !== -1 || !(target[1]! > 0)) throw new Error(`the group split [${target}] is not [0, G, -1]`);
  const [scale, bias] = [1, 2].map((i) => constantValues(g, inorm.input![i]!, modelPath));
  if (!scale?.every((v) => v === 1) || !bias?.every((v) => v === 0)) throw new Error('InstanceNormalization has its own scale/bias (not a GroupNorm export)');
  const x = r1.input![0]!;
  const r2 = only(g, inorm.output![0]!, 'Reshape');
  const shape = g.producer(r2.input![1]!);
  if (shape?.opType !== 'Shape' || shape.input![0] !== x) throw new Error('the normalised groups are not reshaped back to the input shape');
  const mul = only(g, r2.output![0]!, 'Mul'), add = only(g, mul.output![0]!, 'Add');
  const gammaName = mul.input!.find((i) => i !== r2.output![0])!, betaName = add.input!.find((i) => i !== mul.output![0])!;
  const gw = weightThrough(g, gammaName), bw = weightThrough(g, betaName);
  if (!gw || !bw) throw new Error('γ/β are not weights');
  const c = Number(gw.dims?.[0]);
  // γ [C, 1, 1] broadcasts over a 4-D NCHW input; an attention's norm over [B, C, HW] has γ [C, 1] (the
  // NHWC transpose needs 4-D: seen on CUDA, the VAE's mid-block attention refused the fused graph)
  if ((gw.dims ?? []).length !== 3) throw new Error(`γ has shape [${gw.dims}]: the input is not 4-D NCHW`);
  if ((gw.dims ?? []).slice(1).some((d) => Number(d) !== 1) || (bw.dims ?? []).slice(1).some((d) => Number(d) !== 1)) throw new Error(`γ has shape [${gw.dims}], expected [C, 1, 1]`);
  // SiLU after it: Mul(a, Sigmoid(a)), a read by nothing else
  const readers = g.consumers(add.output![0]!);
  const sig = readers.find((n) => n.opType === 'Sigmoid');
  const silu = sig && readers.length === 2 ? readers.find((n) => n.opType === 'Mul' && n.input!.includes(sig.output![0]!) && n.input!.includes(add.output![0]!)) : undefined;
  const groups = target[1]!;
  if (c % groups) throw new Error(`${c} channels do not split into ${groups} groups`);
  const unsupported = cudaGroupNormSupports(c, groups);
  if (unsupported) throw new Error(unsupported);
  return {
    x, last: silu ?? add, groups, epsilon: inorm.attribute?.find((a) => a.name === 'epsilon')?.f ?? 1e-5, silu: !!silu,
    gamma: readFloats(gw, modelPath), beta: readFloats(bw, modelPath),
  };
}

function vector(name: string, values: Float32Array): Tensor {
  const t: Tensor = { name, dataType: FLOAT, dims: [values.length] };
  writeFloats(t, values);
  return t;
}
