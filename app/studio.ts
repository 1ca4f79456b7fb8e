/**
 * Studio-only schemas: models, compare and sweep jobs, the history manifest, the engine host's
 * messages. Pure (the `common` layer): no node, electron or DOM imports.
 */
import { z } from 'zod';
import { GenerateParams, RunEvent, RunResult } from './contract';
import { accelerations, summarize } from './accelerations/registry';
import { BaselineKey, BaselineUse } from './baseline';
import { BlindSession } from './blind';
import { LIMITS } from './limits';
import { AxisValueSchema, GridSection, MAX_GRID_CELLS, MAX_MATRIX_SETTINGS } from './grid';
import { ImageRef, JOB_FIELDS, JobId, RunInputs } from './run-request';
import { Provider, Variant } from './variant';

/** An error as it crosses a process boundary (VS Code's shape). */
export const ErrorShape = z.object({ name: z.string(), message: z.string(), stack: z.string().optional() });
export type ErrorShape = z.infer<typeof ErrorShape>;

export { JobId } from './run-request';

export const LoraEntry = z.object({ path: z.string(), name: z.string() });
export type LoraEntry = z.infer<typeof LoraEntry>;

export const ModelEntry = z.object({
  dir: z.string(),
  name: z.string(),
  source: z.enum(['embedded', 'fixture', 'user']),
  defaultSize: z.number().int(),
  defaultScheduler: z.string().optional(),
  /** The guidance the model is best at (its studio.json); the studio's inputs take it on selecting the model. */
  guidance: z.number().optional(),
  loras: z.array(LoraEntry),
  /** ControlNet folders inside the model folder (controlnet/, controlnet-*), offered by the ControlNet panel. */
  controlnets: z.array(z.object({ dir: z.string(), name: z.string() })).optional(),
  /** Shown beside the model (e.g. "the embedded model is not installed: using the tiny random fixture"). */
  note: z.string().optional(),
});
export type ModelEntry = z.infer<typeof ModelEntry>;

export const ProviderStatus = z.object({
  id: Provider,
  available: z.boolean(),
  reason: z.string().optional(),
  /** What to call it where it is shown: "webgpu — software adapter llvmpipe" (never passed off as a GPU). */
  label: z.string().optional(),
  /** The WebGPU adapter, as the driver names it, and whether it is a CPU rasteriser. */
  adapter: z.object({ name: z.string(), software: z.boolean() }).optional(),
  /** What stands between this machine and the provider (setup:gpu's checks), and the command that fixes it. */
  problems: z.array(z.string()).optional(),
  fix: z.string().optional(),
});
export type ProviderStatus = z.infer<typeof ProviderStatus>;

export const EngineState = z.object({
  state: z.enum(['starting', 'ready', 'busy', 'crashed', 'stopped']),
  message: z.string().optional(),
  restarts: z.number().int(),
});
export type EngineState = z.infer<typeof EngineState>;

export const StudioInfo = z.object({
  mode: z.enum(['electron', 'serve']),
  workspace: z.string(),
  version: z.string(),
  engine: EngineState,
});
export type StudioInfo = z.infer<typeof StudioInfo>;

export const About = z.object({ licenses: z.string().nullable(), model: z.string(), versions: z.record(z.string(), z.string()) });
export type About = z.infer<typeof About>;

export const Side = z.enum(['A', 'B']);
export type Side = z.infer<typeof Side>;

/** Run A and B on identical inputs, `repeats` times each (interleaved A, B, A, B…). */
export const CompareRequest = z
  .object({
    ...JOB_FIELDS,
    a: Variant,
    b: Variant,
    repeats: z.number().int().min(1, 'repeats must be >= 1').max(20, 'repeats must be <= 20').default(1),
    previews: z.boolean().default(true),
    /** Reuse A's runs from an earlier entry when its baseline key is unchanged (app/baseline.ts). */
    reuseA: z.boolean().default(false),
    /** The entry this run was forked from (History → Fork). */
    parent: JobId.optional(),
  })
  .strict();
export type CompareRequest = z.infer<typeof CompareRequest>;
export type CompareRequestInput = z.input<typeof CompareRequest>;

/** What a sweep, grid or matrix job runs on: the model, the shared inputs and the variant it varies. */
const JOB_INPUTS = { ...JOB_FIELDS, base: Variant };

/** DeepCache sweep: every interval × branch on the base variant; SSIM against the interval-1 image. */
export const SweepRequest = z
  .object({
    ...JOB_INPUTS,
    intervals: z.array(z.number().int().min(1).max(50)).min(1).max(20),
    branches: z.array(z.number().int().min(0).max(11)).min(1).max(12),
    /** 3 by default: one run has no spread, and a median of 3 no longer flips on one slow run. */
    repeats: z.number().int().min(1).max(10).default(3),
  })
  .strict();
export type SweepRequest = z.infer<typeof SweepRequest>;
export type SweepRequestInput = z.input<typeof SweepRequest>;

/** X/Y/Z grid: every combination of the axes' values on the base; PSNR/SSIM against the first cell. */
export const GridRequest = z
  .object({
    ...JOB_INPUTS,
    axes: z.array(z.object({ key: z.string().min(1), values: z.array(AxisValueSchema).min(1).max(16) }).strict()).min(1, 'a grid needs an axis').max(3, 'a grid has at most 3 axes (X, Y, Z)')
      .refine((axes) => new Set(axes.map((a) => a.key)).size === axes.length, 'each axis must vary a different parameter')
      .refine((axes) => axes.reduce((n, a) => n * a.values.length, 1) <= MAX_GRID_CELLS, `a grid has at most ${MAX_GRID_CELLS} cells`),
    repeats: z.number().int().min(1).max(10).default(3),
  })
  .strict();
export type GridRequest = z.infer<typeof GridRequest>;
export type GridRequestInput = z.input<typeof GridRequest>;

/** Compatibility matrix: the base alone, each setting alone and every pair of settings. */
export const MatrixRequest = z
  .object({
    ...JOB_INPUTS,
    settings: z.array(z.object({ label: z.string().min(1).max(80), patch: z.record(z.string(), z.unknown()) }).strict()).min(1).max(MAX_MATRIX_SETTINGS, `a matrix has at most ${MAX_MATRIX_SETTINGS} settings`),
    repeats: z.number().int().min(1).max(5).default(2),
  })
  .strict();
export type MatrixRequest = z.infer<typeof MatrixRequest>;
export type MatrixRequestInput = z.input<typeof MatrixRequest>;

/** What a job (and its history entry) is: an A/B comparison, a DeepCache sweep, a grid, a compatibility matrix, a blind A/B session. */
export const JobKind = z.enum(['compare', 'sweep', 'grid', 'matrix', 'blind']);
export type JobKind = z.infer<typeof JobKind>;

export const RunRecord = z.object({ side: z.string(), repeat: z.number().int(), result: RunResult });
export type RunRecord = z.infer<typeof RunRecord>;

export const ImageMetrics = z.object({ psnr: z.number().nullable(), ssim: z.number(), maxDiff: z.number() });
export type ImageMetrics = z.infer<typeof ImageMetrics>;

export const SweepPoint = z.object({
  interval: z.number().int(),
  branch: z.number().int(),
  /** Median over the repeats of the run's total (prepare excluded), and of its denoising loop. */
  latencyMs: z.number(),
  denoiseMs: z.number(),
  /** The spread of the totals over the repeats (older entries have none). */
  n: z.number().int().optional(),
  q1: z.number().optional(),
  q3: z.number().optional(),
  min: z.number().optional(),
  max: z.number().optional(),
  fullSteps: z.number().int(),
  ssim: z.number(),
  psnr: z.number().nullable(),
  image: z.string(),
});
export type SweepPoint = z.infer<typeof SweepPoint>;


export const JobStatus = z.enum(['queued', 'running', 'done', 'failed', 'cancelled', 'interrupted']);
export type JobStatus = z.infer<typeof JobStatus>;

/** One history entry's manifest.json: everything needed to reproduce and review the run. */
export const HistoryManifest = z.object({
  version: z.literal(1),
  id: JobId,
  kind: JobKind,
  createdAt: z.string(),
  finishedAt: z.string().optional(),
  status: JobStatus,
  error: z.string().optional(),
  model: z.object({ dir: z.string(), name: z.string(), hash: z.string().optional() }),
  params: GenerateParams,
  /** The image refs the runs used, as they were asked for (older entries have none). */
  inputs: RunInputs.optional(),
  /** The entry this one was forked from. */
  parent: JobId.optional(),
  compare: z
    .object({
      a: Variant,
      b: Variant,
      repeats: z.number().int(),
      runs: z.array(RunRecord),
      images: z.object({ a: z.string().optional(), b: z.string().optional(), diff: z.string().optional() }),
      metrics: ImageMetrics.optional(),
      /** What A depended on (a later run reuses A only when its key is the same). */
      aKey: BaselineKey.optional(),
      /** Whether A was reused or re-run, as the UI says it. */
      baseline: BaselineUse.optional(),
      /** The per-step trajectory file (the scrubber's): previews, drift, full steps. */
      steps: z.string().optional(),
    })
    .optional(),
  sweep: z
    .object({
      base: Variant,
      intervals: z.array(z.number().int()),
      branches: z.array(z.number().int()),
      repeats: z.number().int(),
      reference: z.string().optional(),
      points: z.array(SweepPoint),
    })
    .optional(),
  grid: GridSection.optional(),
  blind: BlindSession.optional(),
  thumb: z.string().optional(),
});
export type HistoryManifest = z.infer<typeof HistoryManifest>;

export const HistorySummary = z.object({
  id: JobId,
  kind: JobKind,
  createdAt: z.string(),
  status: JobStatus,
  prompt: z.string(),
  model: z.string(),
  title: z.string(),
  /** Both variants' options as text: what the history's search looks through besides prompt and model. */
  variants: z.string().default(''),
  /** PNG as a data: URL (small). */
  thumb: z.string().optional(),
  speedup: z.number().optional(),
  ssim: z.number().optional(),
  error: z.string().optional(),
});
export type HistorySummary = z.infer<typeof HistorySummary>;

export const JobInfo = z.object({
  jobId: JobId,
  kind: JobKind,
  status: JobStatus,
  /** Runs done / total runs of the job. */
  done: z.number().int(),
  total: z.number().int(),
  message: z.string().optional(),
});
export type JobInfo = z.infer<typeof JobInfo>;

/** Progress of one run inside a job (which side, which repeat). */
export const JobProgress = z.object({ jobId: JobId, run: z.number().int(), label: z.string(), side: z.string(), repeat: z.number().int(), event: RunEvent });
export type JobProgress = z.infer<typeof JobProgress>;

/** A live step preview: latent-space RGB approximation, bytes as base64 RGB (HWC, 8-bit). */
export const JobPreview = z.object({
  jobId: JobId,
  side: z.string(),
  step: z.number().int(),
  steps: z.number().int(),
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  rgb: z.string(),
});
export type JobPreview = z.infer<typeof JobPreview>;

/** An entry's steps.json: both sides' previews at every step, B's latent drift from A, the full steps. */
export const StepTrajectory = z.object({
  steps: z.number().int(),
  /** Per step: ‖B − A‖ / ‖A‖ of the latents after the step; null where either side's latents are missing. */
  drift: z.array(z.number().nullable()),
  fullSteps: z.object({ A: z.array(z.number().int()), B: z.array(z.number().int()) }),
  /** Per side, per step: the latent preview as a small PNG (base64), '' where none came. */
  frames: z.object({ A: z.array(z.string()), B: z.array(z.string()) }),
  /** Floats per step in latents-a.bin (A's latents kept for a later run that reuses A); 0 when not kept. */
  latentLength: z.number().int(),
  note: z.string().optional(),
});
export type StepTrajectory = z.infer<typeof StepTrajectory>;

/** Uploads are PNGs of at most this many bytes (a 4096² RGBA PNG compresses well below it). */
export const MAX_UPLOAD_BYTES = LIMITS.uploadBytes; // sized with the WebSocket message limit (base64 fits)

/** An image in the workspace store: its ref (content hash) and what the picker shows. */
export const StoredImage = z.object({ ref: ImageRef, width: z.number().int().positive(), height: z.number().int().positive(), bytes: z.number().int() });
export type StoredImage = z.infer<typeof StoredImage>;

// ---- engine host process <-> studio host (typed arrays travel by structured clone) ----

const Bytes = z.custom<Uint8Array>((v) => v instanceof Uint8Array, 'expected a Uint8Array');
const Floats = z.custom<Float32Array>((v) => v instanceof Float32Array, 'expected a Float32Array');
export const EngineImage = z.object({ width: z.number().int(), height: z.number().int(), data: Floats });

export const ToEngine = z.discriminatedUnion('type', [
  z.object({ type: z.literal('run'), runId: z.number().int(), request: z.unknown(), previews: z.boolean() }),
  z.object({ type: z.literal('cancel'), runId: z.number().int() }),
  z.object({ type: z.literal('providers'), runId: z.number().int() }),
]);
export type ToEngine = z.infer<typeof ToEngine>;

export const FromEngine = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ready'), pid: z.number().int() }),
  /** Sent every few seconds while the engine host lives: the supervisor's watchdog listens for it. */
  z.object({ type: z.literal('heartbeat') }),
  z.object({ type: z.literal('event'), runId: z.number().int(), event: RunEvent }),
  /** `latents` (NCHW, `dims`): the step's own latents, for the per-step A/B drift. */
  z.object({ type: z.literal('preview'), runId: z.number().int(), step: z.number().int(), steps: z.number().int(), width: z.number().int(), height: z.number().int(), rgb: Bytes, latents: Floats.optional(), dims: z.array(z.number().int()).optional() }),
  z.object({ type: z.literal('done'), runId: z.number().int(), result: RunResult, images: z.array(EngineImage) }),
  z.object({ type: z.literal('providers'), runId: z.number().int(), list: z.array(ProviderStatus) }),
  z.object({ type: z.literal('error'), runId: z.number().int(), error: ErrorShape }),
]);
export type FromEngine = z.infer<typeof FromEngine>;

export function toErrorShape(e: unknown): ErrorShape {
  if (e instanceof Error) return { name: e.name, message: e.message, stack: e.stack };
  return { name: 'Error', message: String(e) };
}

/**
 * An error as a client sees it: name and message only, no stack, and `hide` (the server's own
 * install folders) replaced by "<studio>" so replies do not map the server's files.
 */
export function clientErrorShape(e: unknown, hide: readonly string[] = []): ErrorShape {
  const { name, message } = toErrorShape(e);
  return { name, message: hide.reduce((m, dir) => (dir ? m.split(dir).join('<studio>/') : m), message) };
}

export function fromErrorShape(s: ErrorShape): Error {
  const e = new Error(s.message);
  e.name = s.name;
  if (s.stack) e.stack = s.stack;
  return e;
}

// ---- summaries shared by the host (history list, report) and the renderer ----

/** Each acceleration as text, keyed by its id (its summary, or what it says when off): what the A/B summary compares. */
export function describeOptions(v: Variant): Record<string, string> {
  return Object.fromEntries(accelerations().map((d) => [d.id, summarize(d.id, v) || (d.off ?? '')]));
}

/** One line: how B differs from A ("B: DeepCache N=3 branch 0 uniform (A: DeepCache off)"). */
export function variantDifference(a: Variant, b: Variant): string {
  const da = describeOptions(a), db = describeOptions(b);
  const diffs = Object.keys(db).filter((k) => da[k] !== db[k]).map((k) => `${db[k]} (A: ${da[k]})`);
  return diffs.length ? `B: ${diffs.join('; ')}` : 'B has the same options as A';
}

/** One side of a title: its summaries of the options where it differs from the other side, or "baseline". */
function sideTitle(mine: Record<string, string>, other: Record<string, string>, v: Variant): string {
  const parts = Object.keys(mine).filter((k) => mine[k] !== other[k] && summarize(k, v)).map((k) => mine[k]!);
  return parts.length ? parts.join(' + ') : 'baseline';
}

/** A history entry's title, from the variants' differing options: "DeepCache N=3 branch 0 uniform vs baseline". */
export function compareTitle(a: Variant, b: Variant): string {
  const da = describeOptions(a), db = describeOptions(b);
  if (Object.keys(db).every((k) => da[k] === db[k])) return `${b.label} vs ${a.label} (same options)`;
  return `${sideTitle(db, da, b)} vs ${sideTitle(da, db, a)}`;
}

/** Every option's text of a variant, for search ("DeepCache N=3 …, fp16, …"). */
export const variantText = (v: Variant): string => [v.label, ...Object.values(describeOptions(v)).filter(Boolean)].join(', ');

export { speedup, steadyRuns } from './run-stats';
