import { scopeOf } from './attention-fusion';
import { OnnxGraph, rewriteEach, withMicrosoftDomain, type Node } from './graph';
import type { ModelProto } from './model-proto';

/**
 * The feed-forward's output projection plus the residual, Add(Add(MatMul(h, W), b), skip), rewritten
 * into onnxruntime's com.microsoft.BiasAdd(MatMul(h, W), b, skip) as fusion_bias_add.py does: the
 * MatMul reads the GEGLU (BiasSplitGelu, or the h · gelu(g) Mul it replaces), so the tensors are
 * [N, S, C]. The CUDA (and WebGPU) kernels take C ∈ {320, 640, 1280} only (bias_add.cc), so other
 * widths are left as they are, with that reason; `channels: 'any'` matches every width (fixtures).
 */
export interface BiasAddReport {
  fused: string[];
  skipped: { scope: string; reason: string }[];
}

export const BIAS_ADD_CHANNELS = [320, 640, 1280];

export function fuseBiasAdd(model: ModelProto, channels: readonly number[] | 'any' = BIAS_ADD_CHANNELS): { model: ModelProto; report: BiasAddReport } {
  const g = new OnnxGraph(model.graph!);
  const biasAdds = new Set<Node>();
  const r = rewriteEach(model.graph!, (n) => n.opType === 'Add' && isFfOutput(g, n), (add) => {
    const scope = scopeOf(add);
    const biasAdd = add.input!.map((i) => g.producer(i)).find((p) => p && isFfOutput(g, p, true))!;
    const skip = add.input!.find((i) => i !== biasAdd.output![0])!;
    const bias = biasAdd.input!.find((i) => g.weight(i))!;
    const mm = biasAdd.input!.find((i) => i !== bias)!;
    const c = (g.weight(bias)!.dims ?? []).map(Number);
    if (c.length !== 1) throw new Error(`the bias has shape [${c}], expected [C]`);
    if (channels !== 'any' && !channels.includes(c[0]!)) throw new Error(`${c[0]} channels: onnxruntime's BiasAdd kernels take ${channels.join(', ')} only`);
    if (g.consumers(biasAdd.output![0]!).length !== 1) throw new Error('the biased projection has other readers');
    biasAdds.add(biasAdd);
    return { last: add, nodes: [{ name: `${scope}/BiasAdd`, opType: 'BiasAdd', domain: 'com.microsoft', input: [mm, bias, skip], output: [add.output![0]!] }], fused: scope };
  });
  const report = { fused: r.fused, skipped: r.skipped };
  return r.fused.length ? { model: { ...model, opsetImport: withMicrosoftDomain(model), graph: r.graph } as ModelProto, report } : { model, report };
}

/**
 * `biased`: n is Add(MatMul(gelu, W), b) with b a weight. Otherwise: n is the residual Add reading
 * such a node and a non-constant skip.
 */
function isFfOutput(g: OnnxGraph, n: Node, biased = false): boolean {
  if (n.opType !== 'Add') return false;
  if (biased) {
    const mm = n.input!.map((i) => g.producer(i)).find((p) => p?.opType === 'MatMul');
    const src = mm && g.producer(mm.input![0]!);
    return !!mm && !!n.input!.find((i) => g.weight(i)) && !!g.weight(mm.input![1]!) && (src?.opType === 'BiasSplitGelu' || (src?.opType === 'Mul' && /\/ff\/net\.0$/.test(scopeOf(src))));
  }
  const ps = n.input!.map((i) => g.producer(i));
  return ps.some((p) => p && isFfOutput(g, p, true)) && n.input!.every((i) => !g.weight(i) && g.producer(i)?.opType !== 'Constant');
}
