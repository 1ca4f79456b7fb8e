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

/**
 * One step as a linear map of the latents x, the (guided) model output `out`, the previous
 * step's x0 and fresh noise z: what the GPU-resident loop runs as a graph, and what `applyStep`
 * runs on the host, so a scheduler's maths lives in its `linearStep` alone.
 *   x0   = clip((p·x + q·out) / r)      the predicted original (DPM++ keeps it for its next step)
 *   e    = u·x + v·out                  the noise the output implies
 *   prev = a·x + b·e + c·x0 + d·x0_prev
 *   then, with `noise`: prev = w·prev + k·z (ancestral samplers, LCM)
 */
export interface LinearStep {
  p: number; q: number; r: number; clip?: number;
  u: number; v: number;
  a: number; b: number; c: number; d: number;
  noise?: { w: number; k: number };
}

/** A scheduler whose step is a LinearStep (PNDM's Runge–Kutta history is not: it steps on the host). */
export interface LinearScheduler extends Scheduler {
  /** The coefficients of this step; advances the scheduler as `step` does. */
  linearStep(t: number): LinearStep;
  /** What scaleModelInput multiplies the sample by at `t`. */
  inputScale(t: number): number;
}

export const isLinear = (s: Scheduler): s is LinearScheduler => 'linearStep' in s && 'inputScale' in s;

/** A LinearStep from the coefficients a scheduler sets; the rest leave x0 and e equal to the output and add nothing. */
export const linearStep = (c: Partial<LinearStep>): LinearStep => ({ p: 0, q: 1, r: 1, u: 0, v: 1, a: 0, b: 0, c: 0, d: 0, ...c });

/**
 * A LinearStep on the host, float32 after each line as the schedulers always rounded; terms with
 * a zero coefficient are left out, so the sums are the ones each scheduler's step always made.
 */
export function applyStep(s: LinearStep, out: Float32Array, x: Float32Array, prevX0: Float32Array | undefined, noise: () => Float32Array): { prev: Float32Array; x0: Float32Array } {
  const same = (p: number, q: number) => p === 0 && q === 1;
  const x0 = same(s.p, s.q) && s.r === 1 && s.clip === undefined ? out : sum([[s.p, x], [s.q, out]], out.length, s.r, s.clip);
  const e = s.b === 0 ? out : same(s.u, s.v) ? out : sum([[s.u, x], [s.v, out]], out.length);
  if (s.d !== 0 && !prevX0) throw new Error('scheduler step: it needs the previous step\'s x0, which no step made');
  let prev = sum([[s.a, x], [s.b, e], [s.c, x0], [s.d, prevX0]], out.length);
  if (s.noise) {
    const z = noise(), { w, k } = s.noise;
    for (let i = 0; i < prev.length; i++) prev[i] = w * prev[i]! + z[i]! * k;
  }
  return { prev, x0 };
}

/**
 * Σ cᵢ·tᵢ over the non-zero terms, left to right in double, then / r, as float32, then clipped to ±clip.
 * One loop per count of terms: a loop over the terms inside the element loop was the engine's largest
 * cost outside session.run (0.73 of ~1 ms a step at SD1.5's 64x64 latents, in a CPU profile); these do
 * the same additions in the same order, so give the same bits (/ 1 changes none). The clip is a pass of
 * its own, only where a scheduler clips: Math.min/max in every loop cost ~1 ns an element, most of
 * the loop (measured 2.3 against 1.4 ns). Clipping the float32 value gives the bits clipping the double
 * did, as rounding is monotonic (test/unit/scheduler-step.test.ts).
 */
function sum(terms: [number, Float32Array | undefined][], n: number, r = 1, clip?: number): Float32Array {
  const live = terms.filter(([c]) => c !== 0) as [number, Float32Array][];
  const out = new Float32Array(n), k = live.length;
  if (k > 4) throw new Error(`scheduler step: ${k} terms (at most 4)`);
  const a = live[0]?.[0] ?? 0, b = live[1]?.[0] ?? 0, c = live[2]?.[0] ?? 0, d = live[3]?.[0] ?? 0;
  const x = live[0]?.[1] ?? out, y = live[1]?.[1] ?? out, z = live[2]?.[1] ?? out, w = live[3]?.[1] ?? out;
  // the expression written out in each loop: a shared closure for / r cost 2.5x
  if (k === 0) out.fill(0 / r);
  else if (k === 1) for (let i = 0; i < n; i++) out[i] = (0 + a * x[i]!) / r;
  else if (k === 2) for (let i = 0; i < n; i++) out[i] = (0 + a * x[i]! + b * y[i]!) / r;
  else if (k === 3) for (let i = 0; i < n; i++) out[i] = (0 + a * x[i]! + b * y[i]! + c * z[i]!) / r;
  else for (let i = 0; i < n; i++) out[i] = (0 + a * x[i]! + b * y[i]! + c * z[i]! + d * w[i]!) / r;
  if (clip !== undefined) for (let i = 0; i < n; i++) out[i] = Math.min(clip, Math.max(-clip, out[i]!));
  return out;
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
