import { alphasCumprod, BETA_DEFAULTS, interp, oneOf, resolveConfig, trainSigmas } from './schedule';
import { eulerTimesteps } from './euler-timesteps';
import { applyStep, lincomb, linearStep, scale, type LinearScheduler, type LinearStep, type SchedulerConfig } from './scheduler';
import { karrasSigmas, sigmaToT, StepIndex } from './sigmas';

const DEFAULTS = {
  ...BETA_DEFAULTS,
  timestep_spacing: 'linspace',
  interpolation_type: 'linear',
  use_karras_sigmas: false,
  timestep_type: 'discrete',
  final_sigmas_type: 'zero',
};

/** Euler's method on the probability-flow ODE in σ (Karras et al. 2022, Algorithm 2 without churn). */
export class EulerScheduler implements LinearScheduler {
  readonly config: typeof DEFAULTS;
  readonly order = 1;
  timesteps: number[] = [];
  sigmas: number[] = [];
  protected readonly ac: Float32Array;
  protected readonly index = new StepIndex();

  constructor(file: SchedulerConfig, name = 'euler') {
    this.config = resolveConfig(name, DEFAULTS, file);
    oneOf(name, 'prediction_type', this.config.prediction_type, ['epsilon', 'v_prediction', 'sample']);
    oneOf(name, 'interpolation_type', this.config.interpolation_type, ['linear']);
    oneOf(name, 'timestep_type', this.config.timestep_type, ['discrete']);
    oneOf(name, 'final_sigmas_type', this.config.final_sigmas_type, ['zero', 'sigma_min']);
    this.ac = alphasCumprod(name, this.config);
    if (this.config.rescale_betas_zero_snr) this.ac[this.ac.length - 1] = 2 ** -24;
  }

  get initNoiseSigma(): number {
    const max = Math.max(...this.sigmas);
    return this.config.timestep_spacing === 'leading' ? Math.sqrt(max * max + 1) : max;
  }

  setTimesteps(n: number): void {
    const train = trainSigmas(this.ac);
    let ts = eulerTimesteps('euler', this.config, n);
    let sig = ts.map((t) => interp(t, train));
    if (this.config.use_karras_sigmas) {
      sig = karrasSigmas(sig[0]!, sig[sig.length - 1]!, n);
      const logSigmas = train.map(Math.log);
      ts = sig.map((s) => sigmaToT(s, logSigmas));
    }
    const last = this.config.final_sigmas_type === 'sigma_min' ? train[0]! : 0;
    this.sigmas = [...sig, last].map(Math.fround);
    this.timesteps = ts.map(Math.fround);
    this.index.reset();
  }

  setBeginIndex(i: number): void {
    this.index.setBegin(i);
  }

  inputScale(t: number): number {
    const s = this.sigmas[this.index.get(this.timesteps, t)]!;
    return 1 / Math.sqrt(s * s + 1);
  }

  scaleModelInput(x: Float32Array, t: number): Float32Array {
    return scale(x, this.inputScale(t));
  }

  /** x0 predicted from the model output at σ, as LinearStep coefficients. */
  protected x0Coefficients(sigma: number, sigmaHat = sigma): Pick<LinearStep, 'p' | 'q'> {
    switch (this.config.prediction_type) {
      case 'epsilon':
        return { p: 1, q: -sigmaHat };
      case 'v_prediction':
        return { p: 1 / (sigma * sigma + 1), q: -sigma / Math.sqrt(sigma * sigma + 1) };
      default:
        return { p: 0, q: 1 };
    }
  }

  linearStep(t: number): LinearStep {
    const i = this.index.get(this.timesteps, t);
    const sigma = this.sigmas[i]!;
    const dt = this.sigmas[i + 1]! - sigma;
    this.index.advance();
    // x + (x - x0) / σ · dt
    return linearStep({ ...this.x0Coefficients(sigma), a: 1 + dt / sigma, c: -dt / sigma });
  }

  step(out: Float32Array, t: number, x: Float32Array, noise: () => Float32Array): Float32Array {
    return applyStep(this.linearStep(t), out, x, undefined, noise).prev;
  }

  addNoise(x0: Float32Array, noise: Float32Array, t: number): Float32Array {
    const s = this.sigmas[this.index.forNoise(this.timesteps, t)]!;
    return lincomb(1, x0, s, noise);
  }
}
