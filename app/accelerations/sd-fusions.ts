import { z } from 'zod';
import { defineAcceleration } from './descriptor';

/**
 * The parts of onnxruntime's SD optimizer (optimizer.py --model_type unet) the engine rewrites, in
 * the order they are applied (engine/accelerations/sd-fusions.ts says why). Each runs alone:
 * skipGroupNorm makes the GroupNorms it rewrites itself when groupNorm is off.
 */
export const SD_FUSION_PARTS = ['packedQkv', 'groupNorm', 'skipGroupNorm', 'biasSplitGelu', 'biasAdd', 'nhwcConv'] as const;
export type SdFusionPart = (typeof SD_FUSION_PARTS)[number];
const LABELS: Record<SdFusionPart, string> = {
  packedQkv: 'packed QKV/KV attention', groupNorm: 'GroupNorm (NHWC)', skipGroupNorm: 'SkipGroupNorm (+ residual)',
  biasSplitGelu: 'BiasSplitGelu', biasAdd: 'BiasAdd (bias + residual)', nhwcConv: 'NhwcConv + transpose removal',
};

export const SdFusionsOptions = z
  .object(Object.fromEntries(SD_FUSION_PARTS.map((p) => [p, z.boolean().default(true)])) as Record<SdFusionPart, z.ZodDefault<z.ZodBoolean>>)
  .strict()
  .refine((o) => SD_FUSION_PARTS.some((p) => o[p]), 'sdFusions: switch on at least one part (or leave sdFusions out)');
export type SdFusionsOptions = z.infer<typeof SdFusionsOptions>;

/** `--sd-fusions all` or a comma list of parts. */
function parseParts(raw: string): SdFusionsOptions {
  const names = raw === 'all' ? [...SD_FUSION_PARTS] : raw.split(',').map((s) => s.trim());
  const bad = names.filter((n) => !(SD_FUSION_PARTS as readonly string[]).includes(n));
  if (bad.length || !names.length) throw new Error(`--sd-fusions takes "all" or a comma list of ${SD_FUSION_PARTS.join(', ')}; got "${raw}"`);
  return Object.fromEntries(SD_FUSION_PARTS.map((p) => [p, names.includes(p)])) as SdFusionsOptions;
}

export const sdFusions = defineAcceleration({
  id: 'sd-fusions',
  description: "onnxruntime's Stable Diffusion fusions as graph rewrites: packed-QKV attention, NHWC GroupNorm (+SiLU) and SkipGroupNorm, BiasSplitGelu, BiasAdd, NhwcConv with inverse transposes cancelled (CUDA kernels)",
  options: { sdFusions: SdFusionsOptions.optional() },
  summary: ({ sdFusions: f }) => (f ? `SD fusions (${SD_FUSION_PARTS.filter((p) => f[p]).map((p) => LABELS[p]).join(', ')})` : ''),
  off: 'no SD fusions',
  editor: {
    group: {
      key: 'sdFusions', label: 'SD fusions', defaults: Object.fromEntries(SD_FUSION_PARTS.map((p) => [p, true])),
      fields: SD_FUSION_PARTS.map((p) => ({ kind: 'checkbox' as const, key: p, label: LABELS[p] })),
      help: 'CUDA kernels (BiasAdd also on WebGPU; BiasSplitGelu there in fp32 only, its fp16 kernel is wrong): elsewhere refused, or skipped with CPU fallback. BiasSplitGelu/BiasAdd fuse SD widths only (320/640/1280 channels); GroupNorm only where a group has an even count of channels',
    },
  },
  flags: [{ flags: '--sd-fusions <parts>', help: `onnxruntime's SD fusions (CUDA; biasAdd also WebGPU, biasSplitGelu there in fp32 only): all, or a comma list of ${SD_FUSION_PARTS.join(', ')}`, parse: parseParts, apply: (sdFusions: SdFusionsOptions) => ({ sdFusions }) }],
});
