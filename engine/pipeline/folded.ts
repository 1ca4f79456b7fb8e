import { FOLDED_INPUTS, FOLDED_OUTPUTS } from '../onnx/step-fold';
import { isLinear } from '../schedulers/scheduler';
import type { Feeds } from './denoiser';
import type { Graph } from './session-runner';
import type { Latents, LoopInput } from './loop';
import { COEFFICIENTS, stepTable } from './step-graph';

/** Whether a UNet graph was folded (engine/onnx/step-fold.ts): the loop must then drive it with foldedLatents. */
export const takesStep = (unet: Graph): boolean => unet.session.inputNames.includes(FOLDED_INPUTS[0]);

/**
 * A step row that leaves the guided prediction as the graph's latents (x0 = e = prev = eps): for a
 * scheduler whose step is not linear (PNDM), which then steps on it on the host.
 */
const passThrough = (g: number): number[] => [g, 0, 1, 1, 0, 1, 0, 1, 0, 0, 1, 0, 1];

/**
 * The loop's latents with a folded UNet (engine/onnx/step-fold.ts): each step feeds the latents
 * and the step's row and reads the next latents, computed in the graph. A linear scheduler's whole
 * run is its table, made before the first step (as the resident WebGPU loop does); noise is drawn
 * on the host in the order the host step draws it. Inpainting's blend still runs after each step.
 */
export function foldedLatents(l: LoopInput, guided: readonly boolean[]): Latents {
  const n = l.timesteps.length, rows = l.shape[0]!, dims = l.shape;
  // inpainting's blend reads the scheduler's state step by step, which a table made up front has run to its end
  const linear = isLinear(l.scheduler) && !l.afterStep ? l.scheduler : undefined;
  const plan = linear && stepTable(linear, l.timesteps, l.guidance);
  const coefficients = { data: plan ? plan.table : Float32Array.from(Array.from({ length: n }, () => passThrough(l.guidance)).flat()), dims: [n, COEFFICIENTS.length] };
  const clip = plan ? (plan.clip ?? Infinity) : Infinity;
  const range = { clip_lo: { data: Float32Array.of(-clip), dims: [] }, clip_hi: { data: Float32Array.of(clip), dims: [] } };
  let latents = l.latents, x0: Float32Array | undefined;
  // integer inputs are fed as float32 and converted to what the graph declares (asInput), as the timestep is
  return {
    input: (_i, t) => ({ data: plan ? latents : l.scheduler.scaleModelInput(latents, t), dims }),
    feeds: (i): Feeds => ({
      unet_batch: { data: Float32Array.of((guided[i] ? 2 : 1) * rows), dims: [1] },
      sample_scale: { data: Float32Array.of(plan ? plan.scales[i]! : 1), dims: [1] },
      coefficients,
      step: { data: Float32Array.of(plan ? i : 0), dims: [1] },
      x0_prev: { data: x0 ?? latents, dims },
      // no noise this step: z is the latents, times k = 0
      z: { data: plan?.steps[i]!.noise ? l.noise() : latents, dims },
      ...range,
    }),
    async step(i, t, { prediction, extra }) {
      if (plan) [latents, x0] = [prediction.data, extra[FOLDED_OUTPUTS[1]]?.data];
      else latents = l.scheduler.step(prediction.data, t, latents, l.noise);
      if (l.afterStep) latents = l.afterStep(i, latents);
    },
    host: async () => latents,
    release: () => {},
  };
}
