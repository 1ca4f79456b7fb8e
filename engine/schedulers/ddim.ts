import { addNoiseAlphaBar, alphasCumprod, BETA_DEFAULTS, oneOf, originalCoefficients, resolveConfig, spacedTimesteps } from './schedule';
import { applyStep, linearStep, type LinearScheduler, type LinearStep, type SchedulerConfig } from './scheduler';

const DEFAULTS = { ...BETA_DEFAULTS, clip_sample: true, clip_sample_range: 1.0, set_alpha_to_one: true, thresholding: false };

/** DDIM (Song et al. 2020), deterministic (eta = 0) as diffusers' pipelines call it. */
export class DDIMScheduler implements LinearScheduler {
  readonly config: typeof DEFAULTS;
  readonly initNoiseSigma = 1;
  readonly order = 1;
  timesteps: number[] = [];
  private readonly ac: Float32Array;
  private readonly finalAlphaCumprod: number;
  private n = 0;

  constructor(file: SchedulerConfig) {
    this.config = resolveConfig('ddim', DEFAULTS, file);
    oneOf('ddim', 'prediction_type', this.config.prediction_type, ['epsilon', 'v_prediction', 'sample']);
    if (this.config.thresholding) throw new Error('scheduler ddim: thresholding is not supported');
    if (!(this.config.clip_sample_range > 0)) throw new Error(`scheduler ddim: config key "clip_sample_range" must be above 0, got ${this.config.clip_sample_range}`);
    this.ac = alphasCumprod('ddim', this.config);
    this.finalAlphaCumprod = this.config.set_alpha_to_one ? 1 : this.ac[0]!;
  }

  setTimesteps(n: number): void {
    this.timesteps = spacedTimesteps('ddim', this.config, n);
    this.n = n;
  }

  setBeginIndex(): void {}

  scaleModelInput(sample: Float32Array): Float32Array {
    return sample;
  }

  inputScale(): number {
    return 1;
  }

  linearStep(t: number): LinearStep {
    const prev = t - Math.floor(this.config.num_train_timesteps / this.n);
    const a = this.ac[t]!;
    const aPrev = prev >= 0 ? this.ac[prev]! : this.finalAlphaCumprod;
    const b = 1 - a;
    const type = this.config.prediction_type;
    // ε as the model predicted it, before x0 is clipped (diffusers' use_clipped_model_output = False)
    const e = type === 'epsilon' ? {} : type === 'v_prediction' ? { u: Math.sqrt(b), v: Math.sqrt(a) } : { u: 1 / Math.sqrt(b), v: -Math.sqrt(a) / Math.sqrt(b) };
    const x0 = originalCoefficients(type, a, this.config.clip_sample ? this.config.clip_sample_range : undefined);
    return linearStep({ ...x0, ...e, c: Math.sqrt(aPrev), b: Math.sqrt(1 - aPrev) });
  }

  step(eps: Float32Array, t: number, x: Float32Array, noise: () => Float32Array): Float32Array {
    return applyStep(this.linearStep(t), eps, x, undefined, noise).prev;
  }

  addNoise(x0: Float32Array, noise: Float32Array, t: number): Float32Array {
    return addNoiseAlphaBar(this.ac, x0, noise, t);
  }
}
