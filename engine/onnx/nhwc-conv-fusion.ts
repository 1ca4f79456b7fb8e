import { scopeOf } from './attention-fusion';
import { attrInt, makeAttr, OnnxGraph, rewriteEach, withMicrosoftDomain, type Node, type Tensor } from './graph';
import type { ModelProto } from './model-proto';
import { FLOAT, FLOAT16, readFloats, writeFloats } from './tensor-data';
import { cancelTransposes, PERM_NCHW, PERM_NHWC, transposeNode } from './transpose-fusion';

/**
 * Every 2-D Conv with a weight initializer becomes onnxruntime's com.microsoft.NhwcConv (CUDA
 * kernels only), as fusion_nhwc_conv.py does:
 *
 *   Conv(x, W[M, C/g, kH, kW], b)  →  Transpose(0,2,3,1) → NhwcConv(·, W'[M, kH, kW, C/g], b) → Transpose(0,3,1,2)
 *
 * then inverse Transpose pairs cancel (./transpose-fusion), so a run of NHWC ops (NhwcConv, NHWC
 * GroupNorm, SkipGroupNorm) has no layout change between them. The Node binding cannot set CUDA's
 * prefer_nhwc, so this rewrite is how its NHWC kernels get used. Attributes are Conv's own.
 */
export interface NhwcConvReport {
  fused: string[];
  skipped: { scope: string; reason: string }[];
  /** Transposes removed by cancelling inverse pairs. */
  transposesRemoved: number;
}

export function fuseNhwcConv(model: ModelProto, modelPath = ''): { model: ModelProto; report: NhwcConvReport } {
  const g = new OnnxGraph(model.graph!);
  const r = rewriteEach(model.graph!, (n) => n.opType === 'Conv' && (n.domain ?? '') === '', (conv) => {
    const scope = scopeOf(conv);
    const w = g.weight(conv.input![1]!);
    if (!w) throw new Error('the Conv weight is not an initializer');
    const dims = (w.dims ?? []).map(Number);
    if (dims.length !== 4) throw new Error(`the Conv weight has shape [${dims}]: not a 2-D convolution`);
    if (![FLOAT, FLOAT16].includes(Number(w.dataType))) throw new Error(`the Conv weight is of type ${w.dataType}: only fp32/fp16 weights are transposed`);
    const cast = g.producer(conv.input![1]!);
    const tw = transposedWeight(w, `${scope}/NhwcConv.weight`, modelPath);
    const nodes: Node[] = [];
    let wIn = tw.name!;
    if (cast?.opType === 'Cast') {
      // fp16-stored weights read through a Cast keep it
      nodes.push({ name: `${scope}/NhwcConv/WeightCast`, opType: 'Cast', input: [wIn], output: [`${wIn}/cast`], attribute: [makeAttr('to', { i: attrInt(cast, 'to') ?? FLOAT })] });
      wIn = `${wIn}/cast`;
    }
    const nhwc = `${scope}/NhwcConv/nhwc_in`, y = `${scope}/NhwcConv/nhwc_out`;
    nodes.push(
      transposeNode(`${scope}/NhwcConv/ToNhwc`, conv.input![0]!, nhwc, PERM_NHWC),
      { name: `${scope}/NhwcConv`, opType: 'NhwcConv', domain: 'com.microsoft', input: [nhwc, wIn, ...conv.input!.slice(2)], output: [y], attribute: conv.attribute ?? [] },
      transposeNode(`${scope}/NhwcConv/ToNchw`, y, conv.output![0]!, PERM_NCHW),
    );
    return { last: conv, nodes, initializers: [tw], fused: scope };
  });
  if (!r.fused.length) return { model, report: { fused: [], skipped: r.skipped, transposesRemoved: 0 } };
  const c = cancelTransposes(r.graph);
  return {
    model: { ...model, opsetImport: withMicrosoftDomain(model), graph: c.graph } as ModelProto,
    report: { fused: r.fused, skipped: r.skipped, transposesRemoved: c.removed },
  };
}

/** [M, C/g, kH, kW] → [M, kH, kW, C/g], in the stored element type. */
function transposedWeight(w: Tensor, name: string, modelPath: string): Tensor {
  const [m, c, kh, kw] = (w.dims ?? []).map(Number) as [number, number, number, number];
  const src = readFloats(w, modelPath), dst = new Float32Array(src.length);
  for (let o = 0; o < m; o++) for (let i = 0; i < c; i++) for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) {
    dst[((o * kh + y) * kw + x) * c + i] = src[((o * c + i) * kh + y) * kw + x]!;
  }
  const t: Tensor = { name, dataType: Number(w.dataType), dims: [m, kh, kw, c] };
  writeFloats(t, dst);
  return t;
}
