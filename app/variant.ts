/**
 * A variant: the acceleration options one side of an A/B comparison runs with. Each option is
 * implemented by one engine/accelerations/<id>.ts; conflicts between options are validation errors.
 */
import { z } from 'zod';
import { GenerateParams } from './contract';

export const PROVIDERS = ['cpu', 'webgpu', 'cuda', 'tensorrt', 'dml', 'coreml'] as const;
export const Provider = z.enum(PROVIDERS);
export type Provider = z.infer<typeof Provider>;

export const DeepCacheOptions = z
  .object({
    /** A full UNet step every `interval` steps (1 = off in effect). */
    interval: z.number().int('deepcache.interval must be an integer').min(1, 'deepcache.interval must be >= 1').max(50),
    /** DeepCache's cache_branch_id: block = branch / 3, layer = branch % 3 (0 = outermost). */
    branch: z.number().int('deepcache.branch must be an integer').min(0, 'deepcache.branch must be >= 0').max(11),
    /** uniform, the paper's non-uniform schedule, or the explicit step indices that run the full UNet. */
    schedule: z.union([z.enum(['uniform', 'nonuniform']), z.array(z.number().int().min(0)).min(1)]).default('uniform'),
  })
  .strict();
export type DeepCacheOptions = z.infer<typeof DeepCacheOptions>;

export const LoraRef = z.object({ path: z.string().min(1), weight: z.number().min(-4).max(4).default(1) }).strict();
export type LoraRef = z.infer<typeof LoraRef>;

export const Variant = z
  .object({
    label: z.string().max(40).default('A'),
    provider: Provider.default('cpu'),
    /** Run on the CPU when the provider is unavailable (the result records what actually ran). */
    allowFallback: z.boolean().default(false),
    precision: z.enum(['fp32', 'fp16', 'bf16']).default('fp32'),
    /** onnxruntime graph optimisation level: the "compile" analogue. */
    optLevel: z.enum(['disabled', 'basic', 'extended', 'all']).default('all'),
    fusedAttention: z.boolean().default(false),
    deepcache: DeepCacheOptions.optional(),
    loras: z.array(LoraRef).max(8).default([]),
    /** LCM-LoRA: merged like a LoRA, and the run switches to the LCM scheduler with few steps and low guidance. */
    lcmLora: z
      .object({
        path: z.string().min(1),
        steps: z.number().int().min(2, 'lcmLora.steps must be >= 2').max(8, 'lcmLora.steps must be <= 8').default(4),
        guidance: z.number().min(0).max(3, 'lcmLora.guidance must be <= 3 (LCM wants little or no guidance)').default(1),
      })
      .strict()
      .optional(),
    /** Drop the unconditional branch after this fraction of the steps (1 = never). */
    cfgTruncation: z.number().gt(0, 'cfgTruncation must be > 0').max(1, 'cfgTruncation must be <= 1').default(1),
  })
  .strict();
export type Variant = z.infer<typeof Variant>;
export type VariantInput = z.input<typeof Variant>;

/** Moved to run-request.ts (type-only here: a value re-export would be an import cycle). */
export type { RunRequest, RunRequestInput } from './run-request';
