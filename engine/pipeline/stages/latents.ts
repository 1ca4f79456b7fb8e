import type { TorchGenerator } from '../../noise/generator';
import { scale, type Scheduler } from '../../schedulers/scheduler';

/** txt2img: noise scaled by the scheduler's initial sigma. */
export const noiseLatents = (gen: TorchGenerator, shape: number[], scheduler: Scheduler): Float32Array => scale(gen.randn(shape), scheduler.initNoiseSigma);

/**
 * img2img's start, as diffusers' get_timesteps: skip the first (1 - strength) of the steps
 * (times the scheduler's order) and tell the scheduler where it begins.
 */
export function strengthStart(scheduler: Scheduler, steps: number, strength: number): readonly number[] {
  const start = (steps - Math.min(Math.floor(steps * strength), steps)) * scheduler.order;
  scheduler.setBeginIndex(start);
  return scheduler.timesteps.slice(start);
}

/**
 * The image's latents noised to the first visited timestep (img2img). A masked start (inpainting)
 * is the same, except that at full strength it starts from pure noise (diffusers' is_strength_max).
 */
export function imageLatents(x0: Float32Array, gen: TorchGenerator, shape: number[], scheduler: Scheduler, t0: number, masked = false, strength = 0): Float32Array {
  return startLatents(masked && strength === 1 ? undefined : x0, gen, shape, scheduler, t0).latents;
}

/** The first latents and the noise drawn for them (inpainting's blend re-noises with the same noise): pure noise without x0. */
export function startLatents(x0: Float32Array | undefined, gen: TorchGenerator, shape: number[], scheduler: Scheduler, t0: number): { latents: Float32Array; noise: Float32Array } {
  const noise = gen.randn(shape);
  return { latents: x0 ? scheduler.addNoise(x0, noise, t0) : scale(noise, scheduler.initNoiseSigma), noise };
}
