import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { SD_FUSION_PARTS, type SdFusionPart } from '../../app/accelerations/sd-fusions';
import type { Variant } from '../../app/variant';
import { fuseAttention, packAttention } from '../onnx/attention-fusion';
import { fuseBiasAdd } from '../onnx/bias-add-fusion';
import { fuseBiasSplitGelu } from '../onnx/bias-split-gelu-fusion';
import { cachedRewrite, graphKey } from '../onnx/graph-cache';
import { fuseGroupNorm } from '../onnx/group-norm-fusion';
import type { ModelProto } from '../onnx/model-proto';
import { fuseNhwcConv } from '../onnx/nhwc-conv-fusion';
import { fuseSkipGroupNorm } from '../onnx/skip-group-norm-fusion';
import type { Acceleration } from './acceleration';

const VERSION = 'sd-fusions-3'; // 3: GroupNorm γ/β float32, CUDA-unsupported norms left alone
const GRAPHS = ['unet', 'vae_decoder', 'vae_encoder'];

/**
 * Providers with onnxruntime kernels for each part's contrib op, as measured for onnxruntime-node
 * 1.29 by test/unit/sd-fusions-kernels.test.ts (one node per op, opened and run): the CPU provider
 * has none (GroupNorm, SkipGroupNorm, BiasSplitGelu, BiasAdd, NhwcConv: no implementation; its
 * MultiHeadAttention refuses packed QKV/KV); WebGPU (Mesa llvmpipe) runs BiasSplitGelu and BiasAdd,
 * and has no GroupNorm, SkipGroupNorm or NhwcConv and no packed MultiHeadAttention. CUDA has them all.
 */
export const KERNELS: Record<SdFusionPart, ReadonlySet<string>> = {
  packedQkv: new Set(['cuda']),
  groupNorm: new Set(['cuda']),
  skipGroupNorm: new Set(['cuda']),
  biasSplitGelu: new Set(['cuda', 'webgpu']),
  biasAdd: new Set(['cuda', 'webgpu']),
  nhwcConv: new Set(['cuda']),
};

/**
 * Kernels that exist but are wrong in fp16: WebGPU's BiasSplitGelu fails in a process where no fp32
 * one ran ("raw_hash_map<>::at": SD1.5's fp16 UNet on the H200's adapter) and after one computes
 * garbage (test/gpu/webgpu-bias-split-gelu.test.ts), so fp16 variants do without it there.
 */
export const FP16_BROKEN: Partial<Record<SdFusionPart, ReadonlySet<string>>> = { biasSplitGelu: new Set(['webgpu']) };

const chosen = (v: Variant): SdFusionPart[] => SD_FUSION_PARTS.filter((p) => v.sdFusions?.[p]);
const noKernel = (p: SdFusionPart, provider: string) => !KERNELS[p].has(provider);
const wrongInFp16 = (p: SdFusionPart, provider: string, precision: string) => precision === 'fp16' && !!FP16_BROKEN[p]?.has(provider);
/** Why a part cannot run on a provider at a precision, or undefined. */
const why = (p: SdFusionPart, provider: string, precision: string): string | undefined =>
  noKernel(p, provider) ? `${p} runs on ${[...KERNELS[p]].join('/')}` : wrongInFp16(p, provider, precision) ? `${p} is wrong in fp16 on ${provider}` : undefined;
/** Whether a part runs, and runs right, on a provider at a precision. */
export const partRuns = (p: SdFusionPart, provider: string, precision: string): boolean => why(p, provider, precision) === undefined;
const unsupported = (parts: SdFusionPart[], provider: string, precision: string) => parts.filter((p) => !partRuns(p, provider, precision));

type Rewrite = (m: ModelProto, path: string) => { model: ModelProto; count: number };
/**
 * Each part's rewrite and how many places it changed, applied in SD_FUSION_PARTS order because the
 * patterns build on each other: packing needs MultiHeadAttention nodes (it fuses attention first);
 * skipGroupNorm rewrites the NHWC GroupNorms groupNorm makes (and makes them itself when groupNorm
 * is off); biasAdd reads the GEGLU before or after biasSplitGelu; nhwcConv goes last, so its
 * transpose cancelling also removes the pairs between a Conv and the (Skip)GroupNorms around it.
 */
/** A fusion file's rewrite, counted by the places its report says it fused. */
const fused = (f: (m: ModelProto, path: string) => { model: ModelProto; report: { fused: unknown[] } }): Rewrite => (m, path) => {
  const r = f(m, path);
  return { model: r.model, count: r.report.fused.length };
};
const REWRITES: Record<SdFusionPart, Rewrite> = {
  packedQkv: (m, path) => {
    const r = packAttention(fuseAttention(m).model, path);
    return { model: r.model, count: r.report.packed.length };
  },
  groupNorm: fused(fuseGroupNorm),
  skipGroupNorm: fused((m, path) => fuseSkipGroupNorm(fuseGroupNorm(m, path).model, path)),
  biasSplitGelu: fused(fuseBiasSplitGelu),
  biasAdd: fused((m) => fuseBiasAdd(m)), // its second parameter is the channel widths, not the path
  nhwcConv: fused(fuseNhwcConv),
};

/** Applies the chosen parts (in SD_FUSION_PARTS order) to one graph; the counts say what each did. */
export function fuseSd(model: ModelProto, path: string, parts: SdFusionPart[]): { model: ModelProto; report: Partial<Record<SdFusionPart, number>> } {
  const report: Partial<Record<SdFusionPart, number>> = {};
  for (const p of SD_FUSION_PARTS.filter((q) => parts.includes(q))) {
    const r = REWRITES[p](model, path);
    model = r.model;
    report[p] = r.count;
  }
  return { model, report };
}

/**
 * onnxruntime's SD optimizer (transformers/optimizer.py --model_type unet) as graph rewrites, one
 * fusion per file in engine/onnx/: packed QKV/KV attention, NHWC GroupNorm (+SiLU), SkipGroupNorm
 * (residual Add + GroupNorm), BiasSplitGelu, BiasAdd (bias + residual), NhwcConv with inverse
 * transposes cancelled. Runs after fused attention and before DeepCache (names keep their module
 * paths) and fp16 conversion (which converts the fused graph). On a provider without a part's
 * kernels the variant is refused; with CPU fallback allowed those parts are skipped, and the
 * summary says so. The counts per graph are in the note; a part that matched nothing says 0.
 */
export const sdFusions: Acceleration = {
  id: 'sd-fusions',
  enabled: (v) => v.sdFusions !== undefined,
  sessionKey: (v) => v.sdFusions,
  validate(v) {
    const missing = unsupported(chosen(v), v.provider, v.precision);
    return missing.length && !v.allowFallback
      ? `sdFusions: ${missing.join(', ')} need onnxruntime kernels the ${v.provider} provider lacks (${missing.map((p) => why(p, v.provider, v.precision)).join(', ')}); allow CPU fallback to skip them`
      : undefined;
  },
  async prepare(ctx) {
    const all = chosen(ctx.variant), skip = unsupported(all, ctx.provider, ctx.variant.precision);
    const parts = all.filter((p) => !skip.includes(p));
    const t0 = performance.now();
    const done: string[] = [];
    for (const g of GRAPHS) {
      const src = ctx.graphs[g];
      if (!src || !existsSync(src) || !parts.length) continue;
      const dir = join(ctx.cacheDir, 'sd-fusions', `${g}-${graphKey(src, VERSION, ...parts)}`);
      const { path, report } = cachedRewrite(src, dir, (m) => fuseSd(m, src, parts), (r) => Object.values(r).some((n) => n! > 0));
      ctx.graphs[g] = path;
      done.push(`${g} ${parts.map((p) => `${p} ${report[p]}`).join(' ')}`);
    }
    ctx.timings['sd-fusions.fuseMs'] = performance.now() - t0;
    const none = skip.filter((p) => noKernel(p, ctx.provider)), wrong = skip.filter((p) => !none.includes(p));
    const skipped = (none.length ? `; skipped on ${ctx.provider} (no kernels): ${none.join(', ')}` : '') + (wrong.length ? `; skipped on ${ctx.provider} (wrong in fp16): ${wrong.join(', ')}` : '');
    ctx.notes['sd-fusions'] = `SD fusions: ${done.join(', ') || 'none applied'}${skipped}`;
  },
};
