import { scopeOf } from './attention-fusion';
import { constantValues, OnnxGraph, rewriteEach, withMicrosoftDomain, type Node } from './graph';
import type { ModelProto } from './model-proto';

/**
 * diffusers' GEGLU (FeedForward's first layer) as exported, rewritten into onnxruntime's
 * com.microsoft.BiasSplitGelu (CUDA/ROCm kernels only), as fusion_bias_split_gelu.py does:
 *
 *   p = Add(MatMul(x, W), b);  h = Slice(p, 0, D);  g = Slice(p, D, 2D)
 *   out = Mul(h, Mul(Mul(g, Add(Erf(Div(g, √2)), 1)), 0.5))          (h · gelu(g))
 *
 * becomes BiasSplitGelu(MatMul(x, W), b) → out: the bias add, split and exact GELU in one kernel.
 * The CUDA kernel takes projection widths 2D ∈ {2560, 5120, 10240} only (bias_split_gelu.cc, SD's
 * 320/640/1280 channels); other widths are left as exported, with that reason. `widths: 'any'`
 * matches the pattern at every width (for fixtures narrower than SD).
 */
export interface BiasSplitGeluReport {
  fused: string[];
  skipped: { scope: string; reason: string }[];
}

const near = (v: number[] | undefined, x: number) => v?.length === 1 && Math.abs(v[0]! - x) < 1e-3;

export const BIAS_SPLIT_GELU_WIDTHS = [2560, 5120, 10240];

export function fuseBiasSplitGelu(model: ModelProto, modelPath = '', widths: readonly number[] | 'any' = BIAS_SPLIT_GELU_WIDTHS): { model: ModelProto; report: BiasSplitGeluReport } {
  const g = new OnnxGraph(model.graph!);
  const r = rewriteEach(model.graph!, (n) => n.opType === 'Erf', (erf) => {
    const scope = scopeOf(erf), { matmul, bias, out } = match(g, erf, modelPath);
    const width = Number(g.weight(bias)!.dims?.at(-1));
    if (widths !== 'any' && !widths.includes(width)) throw new Error(`projection width ${width}: onnxruntime's BiasSplitGelu kernel takes ${widths.join(', ')} only`);
    return { last: out, nodes: [{ name: `${scope}/BiasSplitGelu`, opType: 'BiasSplitGelu', domain: 'com.microsoft', input: [matmul, bias], output: [out.output![0]!] }], fused: scope };
  });
  const report = { fused: r.fused, skipped: r.skipped };
  return r.fused.length ? { model: { ...model, opsetImport: withMicrosoftDomain(model), graph: r.graph } as ModelProto, report } : { model, report };
}

function match(g: OnnxGraph, erf: Node, modelPath: string): { matmul: string; bias: string; out: Node } {
  const div = g.parent(erf, 0, 'Div');
  if (!div || !near(constantValues(g, div.input![1]!, modelPath), Math.SQRT2)) throw new Error('Erf does not read gate / √2 (not an exact GELU)');
  const gate = g.producer(div.input![0]!);
  if (gate?.opType !== 'Slice') throw new Error('the GELU input is not a Slice of the projection (not GEGLU)');
  const one = g.consumers(erf.output![0]!);
  const add1 = one.length === 1 && one[0]!.opType === 'Add' ? one[0]! : undefined;
  if (!add1 || !near(constantValues(g, add1.input!.find((i) => i !== erf.output![0])!, modelPath), 1)) throw new Error('Erf is not followed by + 1');
  const mul2 = g.consumers(add1.output![0]!)[0];
  if (mul2?.opType !== 'Mul' || !mul2.input!.includes(gate.output![0]!)) throw new Error('(erf + 1) does not multiply the gate');
  const mul3 = g.consumers(mul2.output![0]!)[0];
  if (mul3?.opType !== 'Mul' || !near(constantValues(g, mul3.input!.find((i) => i !== mul2.output![0])!, modelPath), 0.5)) throw new Error('gate·(erf + 1) is not halved');
  const out = g.consumers(mul3.output![0]!)[0];
  const hidden = out?.opType === 'Mul' ? g.producer(out.input!.find((i) => i !== mul3.output![0])!) : undefined;
  if (!out || hidden?.opType !== 'Slice' || hidden.input![0] !== gate.input![0]) throw new Error('gelu(gate) does not multiply the other half of the same projection');
  // the hidden half is the first one (starts at 0), both along the last axis
  if (constantValues(g, hidden.input![1]!, modelPath)?.[0] !== 0) throw new Error('the hidden half does not start at 0');
  for (const s of [hidden, gate]) {
    const axes = s.input![3] ? constantValues(g, s.input![3], modelPath) : undefined;
    if (!axes || (axes[0] !== -1 && axes[0] !== 2)) throw new Error(`${s.name} does not slice the last axis`);
  }
  const add = g.producer(gate.input![0]!);
  const mm = add?.opType === 'Add' ? add.input!.map((i) => g.producer(i)).find((p) => p?.opType === 'MatMul') : undefined;
  const bias = add?.input!.find((i) => g.weight(i));
  if (!mm || !bias) throw new Error('the projection is not MatMul + bias');
  if (g.consumers(add!.output![0]!).some((c) => c !== gate && c !== hidden && c.opType !== 'Shape')) throw new Error('the projection feeds more than the two halves');
  return { matmul: mm.output![0]!, bias, out };
}
