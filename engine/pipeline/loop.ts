import { CancelledError } from '../../app/errors';
import type { RunEvent } from '../../app/contract';
import { download, hostTransfers } from '../model/device-tensors';
import { toFloat32 } from '../model/onnx-session';
import { isLinear, type Scheduler } from '../schedulers/scheduler';
import type { Denoiser, DenoiserOutput, Feeds, Tensor } from './denoiser';
import { foldedLatents } from './folded';
import { firstNonFinite } from './finite';
import type { ResidentSteps } from './resident';

/** What the loop tells the accelerations that hook into it. */
export interface LoopInfo {
  /** The timesteps the loop visits, and the scheduler's whole list (img2img visits a suffix). */
  timesteps: readonly number[];
  allTimesteps: readonly number[];
}

/** Where accelerations act in the loop: around the denoiser, and on which steps keep guidance. */
export interface LoopHooks {
  wrap?(next: Denoiser, info: LoopInfo): Denoiser;
  /** CFG truncation: false drops the unconditional branch for this step (0-based, of `steps`). */
  keepGuidance?(step: number, steps: number): boolean;
}

export interface LoopInput {
  scheduler: Scheduler;
  timesteps: readonly number[];
  latents: Float32Array;
  /** Latent shape [batch, channels, h, w]. */
  shape: number[];
  guidance: number;
  /** Conditioning feeds; with guidance (> 1) each is batched [uncond × batch; cond × batch]. */
  feeds: Feeds;
  denoiser: Denoiser;
  hooks?: LoopHooks;
  noise: () => Float32Array;
  /** Time spent in session.run so far (step events report it apart from overhead). */
  onnxClock: () => number;
  signal?: AbortSignal;
  onEvent?: (event: RunEvent) => void;
  onLatents?: (step: number, latents: Float32Array, dims: readonly number[]) => void;
  /** After each scheduler step, before the checks and callbacks: inpainting's latent blend. */
  afterStep?: (step: number, latents: Float32Array) => Float32Array;
  /** Keep the latents on the GPU (WebGPU) where the scheduler's step is linear and no host step follows it. */
  resident?: ResidentSteps;
  /** The UNet graph takes the step inside it (engine/onnx/step-fold.ts): the host feeds latents and reads the next ones. */
  folded?: boolean;
}

/** Where the latents live between steps: on the host, or on the GPU (./resident.ts). */
export interface Latents {
  /** The UNet's sample at step i: doubled under guidance, scaled by the scheduler (a folded UNet's: the latents once, ./folded.ts). */
  input(i: number, t: number): Tensor;
  /** Feeds of step i besides the conditioning (a folded UNet's step inputs: ./folded.ts). */
  feeds?(i: number): Feeds;
  /** Guidance and the scheduler step on the UNet's prediction. */
  step(i: number, t: number, out: DenoiserOutput): Promise<void>;
  /** The latents on the host (a download when they are on the GPU). */
  host(): Promise<Float32Array>;
  /** After the loop, finished or not: what the run put on the GPU goes. */
  release(): void;
}

/** The scheduler stepping on the host, as diffusers does; a prediction left on the GPU comes down first. */
function hostLatents(l: LoopInput, guided: readonly boolean[]): Latents {
  let latents = l.latents;
  return {
    input: (i, t) => ({ data: l.scheduler.scaleModelInput(guided[i] ? repeat(latents, 2) : latents, t), dims: [(guided[i] ? 2 : 1) * l.shape[0]!, ...l.shape.slice(1)] }),
    async step(i, t, { prediction }) {
      const out = prediction.device ? toFloat32(await download(prediction.device)) : prediction.data;
      latents = l.scheduler.step(guided[i] ? guide(out, l.guidance) : out, t, latents, l.noise);
      if (l.afterStep) latents = l.afterStep(i, latents);
    },
    host: async () => latents,
    release: () => {},
  };
}

/**
 * The denoising loop: scheduler steps, CFG, step events, cancellation between steps, a finite
 * check after each (on the GPU, after each the latents come down for: a preview, the end).
 */
export async function denoise(l: LoopInput): Promise<{ latents: Float32Array; stepMs: number[]; stepOnnxMs: number[]; stepTransfers: number[]; resident: boolean }> {
  const { scheduler, timesteps, shape, guidance } = l;
  const n = timesteps.length, cfg = guidance > 1;
  const predict = l.hooks?.wrap?.(l.denoiser, { timesteps, allTimesteps: scheduler.timesteps }) ?? l.denoiser;
  const condFeeds = cfg ? mapFeeds(l.feeds, condHalf) : l.feeds;
  const guided = timesteps.map((_, i) => cfg && (l.hooks?.keepGuidance?.(i, n) ?? true));
  const stepMs: number[] = [], stepOnnxMs: number[] = [], stepTransfers: number[] = [];
  // step 0 is timed and counted from before the resident loop's first uploads
  const start = performance.now(), moved0 = hostTransfers();
  const linear = l.resident && !l.afterStep && isLinear(scheduler) ? scheduler : undefined;
  const state = linear ? await l.resident!.start({ scheduler: linear, timesteps, latents: l.latents, shape, guided, guidance, noise: l.noise }) : l.folded ? foldedLatents(l, guided) : hostLatents(l, guided);
  const resident = linear !== undefined;
  let latents = l.latents;
  try {
    for (const [i, t] of timesteps.entries()) {
      if (l.signal?.aborted) throw new CancelledError();
      const s = i === 0 ? start : performance.now(), before = l.onnxClock(), moved = i === 0 ? moved0 : hostTransfers();
      const conditioning = guided[i] ? l.feeds : condFeeds;
      const out = await predict(i, t, state.input(i, t), state.feeds ? { ...conditioning, ...state.feeds(i) } : conditioning);
      await state.step(i, t, out);
      // on the GPU the latents come down (and are checked) only for a preview and at the end
      const seen = !resident || l.onLatents || i === n - 1;
      if (seen) {
        latents = await state.host();
        const bad = firstNonFinite(latents);
        if (bad) throw new Error(`latents became non-finite ${resident && !l.onLatents ? 'by' : 'at'} step ${i + 1} of ${n} (${bad}): check the LoRA weights / scheduler config`);
      }
      stepMs.push(performance.now() - s);
      stepOnnxMs.push(l.onnxClock() - before);
      stepTransfers.push(hostTransfers() - moved);
      if (seen) l.onLatents?.(i, latents, shape);
      l.onEvent?.({ type: 'step', step: i + 1, steps: n, timestep: t, ms: stepMs[i]!, onnxMs: stepOnnxMs[i]! });
    }
  } finally {
    state.release();
  }
  return { latents, stepMs, stepOnnxMs, stepTransfers, resident };
}

/** guided = uncond + g (text - uncond), from the UNet's [uncond; text] halves. */
export function guide(out: Float32Array, g: number): Float32Array {
  const half = out.length / 2;
  const res = new Float32Array(half);
  for (let i = 0; i < half; i++) res[i] = out[i]! + g * (out[half + i]! - out[i]!);
  return res;
}

export function repeat(x: Float32Array, times: number): Float32Array {
  const out = new Float32Array(x.length * times);
  for (let k = 0; k < times; k++) out.set(x, k * x.length);
  return out;
}

/** The conditional half of a CFG-batched tensor (its second half along the batch). */
export function condHalf(x: Tensor): Tensor {
  if (x.device) throw new Error('condHalf: the tensor is on the GPU (keep an output on the device only where no host code slices it)');
  return { data: x.data.subarray(x.data.length / 2), dims: [x.dims[0]! / 2, ...x.dims.slice(1)] };
}

export const mapFeeds = (feeds: Feeds, f: (x: Tensor) => Tensor): Feeds => Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, f(v)]));
