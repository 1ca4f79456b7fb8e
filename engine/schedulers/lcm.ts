import { addNoiseAlphaBar, alphasCumprod, BETA_DEFAULTS, intIn, linspace, oneOf, originalCoefficients, resolveConfig } from './schedule';
import { applyStep, linearStep, type LinearScheduler, type LinearStep, type SchedulerConfig } from './scheduler';
import { StepIndex } from './sigmas';

const DEFAULTS = {
  ...BETA_DEFAULTS,
  beta_start: 0.00085,
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  original_inference_steps: 50,
  clip_sample: false,
  clip_sample_range: 1.0,
  set_alpha_to_one: true,
  timestep_scaling: 10.0,
  thresholding: false,
};

/** Latent consistency model sampling (Luo et al. 2023): predict x0 with the consistency boundary, re-noise. */
export class LCMScheduler implements LinearScheduler {
  readonly config: typeof DEFAULTS;
  readonly initNoiseSigma = 1;
  readonly order = 1;
  timesteps: number[] = [];
  private readonly ac: Float32Array;
  private readonly finalAlphaCumprod: number;
  private readonly index = new StepIndex();

  constructor(file: SchedulerConfig) {
    this.config = resolveConfig('lcm', DEFAULTS, file);
    oneOf('lcm', 'prediction_type', this.config.prediction_type, ['epsilon', 'v_prediction', 'sample']);
    if (this.config.thresholding) throw new Error('scheduler lcm: thresholding is not supported');
    this.ac = alphasCumprod('lcm', this.config);
    intIn('lcm', 'original_inference_steps', this.config.original_inference_steps, 1, this.config.num_train_timesteps);
    if (!(this.config.timestep_scaling > 0)) throw new Error(`scheduler lcm: config key "timestep_scaling" must be above 0, got ${this.config.timestep_scaling}`);
    this.finalAlphaCumprod = this.config.set_alpha_to_one ? 1 : this.ac[0]!;
  }

  setTimesteps(n: number): void {
    const T = this.config.num_train_timesteps;
    const original = this.config.original_inference_steps;
    if (!Number.isInteger(n) || n < 1) throw new Error(`scheduler lcm: steps must be a positive integer, got ${n}`);
    if (n > original) throw new Error(`scheduler lcm: ${n} steps cannot be more than original_inference_steps (${original})`);
    const k = Math.floor(T / original);
    const origin = Array.from({ length: original }, (_, i) => (i + 1) * k - 1).reverse();
    this.timesteps = Array.from(linspace(0, original, n + 1).subarray(0, n), (v) => origin[Math.floor(v)]!);
    this.index.reset();
  }

  setBeginIndex(i: number): void {
    this.index.setBegin(i);
  }

  scaleModelInput(x: Float32Array): Float32Array {
    return x;
  }

  inputScale(): number {
    return 1;
  }

  /** denoised = c_skip·x + c_out·x0; every step but the last re-noises it to the next timestep. */
  linearStep(t: number): LinearStep {
    const i = this.index.get(this.timesteps, t);
    const prevT = i + 1 < this.timesteps.length ? this.timesteps[i + 1]! : t;
    const a = this.ac[t]!, aPrev = prevT >= 0 ? this.ac[prevT]! : this.finalAlphaCumprod;
    const st = t * this.config.timestep_scaling;
    const cSkip = 0.25 / (st * st + 0.25);
    const cOut = st / Math.sqrt(st * st + 0.25);
    const x0 = originalCoefficients(this.config.prediction_type, a, this.config.clip_sample ? this.config.clip_sample_range : undefined);
    this.index.advance();
    const last = i === this.timesteps.length - 1;
    return linearStep({ ...x0, a: cSkip, c: cOut, ...(last ? {} : { noise: { w: Math.sqrt(aPrev), k: Math.sqrt(1 - aPrev) } }) });
  }

  step(out: Float32Array, t: number, x: Float32Array, noise: () => Float32Array): Float32Array {
    return applyStep(this.linearStep(t), out, x, undefined, noise).prev;
  }

  addNoise(x0: Float32Array, noise: Float32Array, t: number): Float32Array {
    return addNoiseAlphaBar(this.ac, x0, noise, t);
  }
}
