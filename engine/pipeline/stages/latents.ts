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
  const noise = gen.randn(shape);
  return masked && strength === 1 ? scale(noise, scheduler.initNoiseSigma) : scheduler.addNoise(x0, noise, t0);
}
