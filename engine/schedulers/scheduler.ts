/**
 * The scheduler contract, as diffusers' schedulers have it: built from the model folder's
 * `scheduler_config.json` (keys as they are), `setTimesteps`, `scaleModelInput`, `step`.
 * State (step index, multistep history) lives in the instance: one instance per run.
 */
export interface Scheduler {
  /** Timesteps the denoising loop visits, in order (set by setTimesteps). */
  readonly timesteps: readonly number[];
  /** Standard deviation of the initial noise (txt2img multiplies the noise by it). */
  readonly initNoiseSigma: number;
  /** Model evaluations per step (diffusers' `order`; img2img slices timesteps by it). */
  readonly order: number;
  /** The resolved config: the file's keys over this scheduler's defaults. */
  readonly config: Readonly<Record<string, unknown>>;
  setTimesteps(numInferenceSteps: number): void;
  /** img2img starts part-way: the index of the first timestep it will visit. */
  setBeginIndex(index: number): void;
  scaleModelInput(sample: Float32Array, t: number): Float32Array;
  /** One denoising step; `noise` draws fresh noise of the latents' shape from the run's generator. */
  step(modelOutput: Float32Array, t: number, sample: Float32Array, noise: () => Float32Array): Float32Array;
  addNoise(original: Float32Array, noise: Float32Array, t: number): Float32Array;
}

export type SchedulerConfig = Record<string, unknown>;

/** Elementwise a*x + b*y (+ c*z), in double, stored as float32. */
export function lincomb(a: number, x: Float32Array, b: number, y: Float32Array, c = 0, z?: Float32Array): Float32Array {
  const out = new Float32Array(x.length);
  if (z) for (let i = 0; i < x.length; i++) out[i] = a * x[i]! + b * y[i]! + c * z[i]!;
  else for (let i = 0; i < x.length; i++) out[i] = a * x[i]! + b * y[i]!;
  return out;
}

export function scale(x: Float32Array, s: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = x[i]! * s;
  return out;
}
