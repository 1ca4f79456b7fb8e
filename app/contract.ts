/**
 * The one typed contract between processes: what a run asks for, what it reports, what it returns.
 * Pure: imports nothing of node, electron or the DOM (enforced by test/unit/boundaries.test.ts).
 */
import { z } from 'zod';
import { ControlNetParams } from './controlnet';
import { LIMITS } from './limits';

export const SCHEDULER_NAMES = ['pndm', 'ddim', 'euler', 'euler-a', 'dpmpp-2m', 'dpmpp-2m-karras', 'lcm'] as const;
export const SchedulerName = z.enum(SCHEDULER_NAMES);
export type SchedulerName = z.infer<typeof SchedulerName>;

/** Limits checked before any work (a 10 MB prompt would be copied into every manifest and PNG). */
export const MAX_PROMPT = LIMITS.promptChars;
export const MAX_SIZE = LIMITS.imageSide;

/** [height, width] in pixels, diffusers' order. Original sizes may exceed the generated image (a downscaled source). */
const Size = z.tuple([z.number().int().positive(), z.number().int().positive()]).refine(([h, w]) => h <= 65536 && w <= 65536, 'a size must be at most 65536 pixels a side');
/** [top, left] in pixels. */
const Crop = z.tuple([z.number().int().nonnegative(), z.number().int().nonnegative()]).refine(([y, x]) => y <= 65536 && x <= 65536, 'a crop offset must be at most 65536 pixels');
const Score = z.number().min(0, 'an aesthetic score must be >= 0').max(10, 'an aesthetic score must be <= 10');

/**
 * SDXL's size conditioning, as diffusers' __call__ arguments (original_size, crops_coords_top_left,
 * target_size and their negatives; aesthetic scores for refiner folders, requires_aesthetics_score).
 * Sizes default to the generated size, crops to (0, 0), scores to 6 and 2.5.
 */
export const SizeConditioning = z
  .object({
    originalSize: Size.optional(),
    cropTopLeft: Crop.optional(),
    targetSize: Size.optional(),
    negativeOriginalSize: Size.optional(),
    negativeCropTopLeft: Crop.optional(),
    negativeTargetSize: Size.optional(),
    aestheticScore: Score.optional(),
    negativeAestheticScore: Score.optional(),
  })
  .strict();
export type SizeConditioning = z.infer<typeof SizeConditioning>;

/** The inputs of one generation (txt2img, or img2img when an init image is given). */
export const GenerateParams = z
  .object({
    prompt: z.string().max(MAX_PROMPT, `prompt must be at most ${MAX_PROMPT} characters`),
    /** Absent is not "": SDXL folders with force_zeros_for_empty_prompt zero the negative embeddings when it is absent (diffusers' None). */
    negativePrompt: z.string().max(MAX_PROMPT, `negative prompt must be at most ${MAX_PROMPT} characters`).optional(),
    seed: z.number().int('seed must be an integer').min(0, 'seed must be >= 0').max(Number.MAX_SAFE_INTEGER),
    /** Defaults: 50 steps and guidance 7.5 (diffusers' pipeline defaults); size from the model folder. */
    steps: z.number().int('steps must be an integer').min(1, 'steps must be >= 1').max(1000, 'steps must be <= 1000').default(50),
    guidance: z.number().min(0, 'guidance must be >= 0').max(100, 'guidance must be <= 100').default(7.5),
    width: z.number().int('width must be an integer').positive('width must be positive').max(MAX_SIZE, `width must be <= ${MAX_SIZE}`).optional(),
    height: z.number().int('height must be an integer').positive('height must be positive').max(MAX_SIZE, `height must be <= ${MAX_SIZE}`).optional(),
    scheduler: SchedulerName.optional(),
    batch: z.number().int('batch must be an integer').min(1, 'batch must be >= 1').max(16, 'batch must be <= 16').default(1),
    /** img2img only: how much of the schedule to run from the init image (0 < strength <= 1). */
    strength: z.number().gt(0, 'strength must be > 0').max(1, 'strength must be <= 1').optional(),
    /** SDXL's micro-conditioning (the UNet's time_ids); other pipelines refuse it. */
    sizeConditioning: SizeConditioning.optional(),
    /** ControlNet(s) with their scales and step windows (inputs.controlImage or inputs.controlImages give the maps). */
    controlnet: ControlNetParams.optional(),
  })
  .strict();
export type GenerateParams = z.infer<typeof GenerateParams>;
export type GenerateParamsInput = z.input<typeof GenerateParams>;

/** The parameters a run actually used: scheduler and size filled in from the model; img2img's strength. */
export const ResolvedParams = GenerateParams.extend({
  scheduler: SchedulerName,
  width: z.number().int().positive(),
  height: z.number().int().positive(),
});
export type ResolvedParams = z.infer<typeof ResolvedParams>;

export const Stage = z.enum(['text-encoder', 'vae-encoder', 'denoise', 'vae-decoder']);
export type Stage = z.infer<typeof Stage>;

/** Progress a run reports as it goes. `onnxMs` is time inside session.run; the rest is engine overhead. */
export const RunEvent = z.discriminatedUnion('type', [
  z.object({ type: z.literal('stage'), stage: Stage, ms: z.number(), onnxMs: z.number() }),
  z.object({ type: z.literal('step'), step: z.number().int(), steps: z.number().int(), timestep: z.number(), ms: z.number(), onnxMs: z.number() }),
]);
export type RunEvent = z.infer<typeof RunEvent>;

export const Timings = z.object({
  textEncoderMs: z.number(),
  vaeEncoderMs: z.number(),
  /** Wall time of each denoising step, and the session.run part of it. */
  stepMs: z.array(z.number()),
  stepOnnxMs: z.array(z.number()),
  denoiseMs: z.number(),
  vaeDecoderMs: z.number(),
  totalMs: z.number(),
  onnxMs: z.number(),
  overheadMs: z.number(),
  /**
   * Copies between host and device at the session boundary: per denoising step, and in the whole
   * run (0 on the CPU provider). Absent in runs recorded before they were counted.
   */
  stepTransfers: z.array(z.number().int()).optional(),
  transfers: z.number().int().optional(),
  /** Part of overheadMs: converting feeds to the graphs' input types and outputs to float32 (fp16 I/O). Absent in older runs. */
  convertMs: z.number().optional(),
});
export type Timings = z.infer<typeof Timings>;

export { describeIssues } from './errors';

/** What one variant's run returns across the process boundary (images travel as PNG bytes). */
export const RunResult = z.object({
  /** The provider that actually ran (differs from the variant's only with allowFallback). */
  provider: z.string(),
  /** The provider as the studio names it ("webgpu — software adapter llvmpipe"); absent in older runs. */
  providerLabel: z.string().optional(),
  fellBack: z.boolean(),
  params: ResolvedParams,
  timings: Timings,
  /** Session creation and graph preparation for this variant; 0 when the sessions were warm. */
  prepareMs: z.number(),
  /** Its parts: e.g. lora.loadMs (reading the files), lora.applyMs (merging), sessionsMs. */
  prepareSteps: z.record(z.string(), z.number()),
  firstRun: z.boolean(),
  /** Indices of the steps that ran the full UNet (all of them without DeepCache). */
  fullSteps: z.array(z.number().int()),
  summary: z.string(),
  /** What the engine changed or measured on the way that the user should know (a resized mask or control image, ControlNet runs). */
  notices: z.array(z.string()).optional(),
  model: z.object({ dir: z.string(), name: z.string(), hash: z.string() }),
});
export type RunResult = z.infer<typeof RunResult>;
