import { alphasCumprod, BETA_DEFAULTS, interp, oneOf, resolveConfig, trainSigmas } from './schedule';
import { eulerTimesteps } from './euler-timesteps';
import { lincomb, scale, type Scheduler, type SchedulerConfig } from './scheduler';
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
export class EulerScheduler implements Scheduler {
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

  scaleModelInput(x: Float32Array, t: number): Float32Array {
    const s = this.sigmas[this.index.get(this.timesteps, t)]!;
    return scale(x, 1 / Math.sqrt(s * s + 1));
  }

  /** x0 predicted from the model output at σ. */
  protected predictX0(out: Float32Array, x: Float32Array, sigma: number, sigmaHat = sigma): Float32Array {
    switch (this.config.prediction_type) {
      case 'epsilon':
        return lincomb(1, x, -sigmaHat, out);
      case 'v_prediction':
        return lincomb(1 / (sigma * sigma + 1), x, -sigma / Math.sqrt(sigma * sigma + 1), out);
      default:
        return out;
    }
  }

  step(out: Float32Array, t: number, x: Float32Array, _noise?: () => Float32Array): Float32Array {
    const i = this.index.get(this.timesteps, t);
    const sigma = this.sigmas[i]!;
    const x0 = this.predictX0(out, x, sigma);
    const dt = this.sigmas[i + 1]! - sigma;
    // x + (x - x0) / σ · dt
    const prev = lincomb(1 + dt / sigma, x, -dt / sigma, x0);
    this.index.advance();
    return prev;
  }

  addNoise(x0: Float32Array, noise: Float32Array, t: number): Float32Array {
    const s = this.sigmas[this.index.forNoise(this.timesteps, t)]!;
    return lincomb(1, x0, s, noise);
  }
}
