import { alphasCumprod, BETA_DEFAULTS, checkTimesteps, interp, linspace, oneOf, resolveConfig, roundHalfEven, trainSigmas } from './schedule';
import { applyStep, lincomb, linearStep, type LinearScheduler, type LinearStep, type SchedulerConfig } from './scheduler';
import { karrasSigmas, sigmaToT, StepIndex } from './sigmas';

const DEFAULTS = {
  ...BETA_DEFAULTS,
  timestep_spacing: 'linspace',
  solver_order: 2,
  algorithm_type: 'dpmsolver++',
  solver_type: 'midpoint',
  lower_order_final: true,
  euler_at_final: false,
  use_karras_sigmas: false,
  final_sigmas_type: 'zero',
  thresholding: false,
};

/** DPM-Solver++ (Lu et al. 2022), multistep, order 1 or 2 ("DPM++ 2M"); Karras σs as an option. */
export class DPMSolverMultistepScheduler implements LinearScheduler {
  readonly config: typeof DEFAULTS;
  readonly initNoiseSigma = 1;
  readonly order = 1;
  timesteps: number[] = [];
  sigmas: number[] = [];
  private readonly ac: Float32Array;
  private readonly index = new StepIndex();
  /** The previous step's x0 (the multistep history of the host step). */
  private lastX0: Float32Array | undefined;
  private lowerOrderNums = 0;

  constructor(file: SchedulerConfig, overrides: SchedulerConfig = {}) {
    const name = 'dpmpp-2m';
    this.config = resolveConfig(name, DEFAULTS, { ...file, ...overrides });
    oneOf(name, 'algorithm_type', this.config.algorithm_type, ['dpmsolver++']);
    oneOf(name, 'solver_type', this.config.solver_type, ['midpoint', 'heun']);
    oneOf(name, 'prediction_type', this.config.prediction_type, ['epsilon', 'v_prediction', 'sample']);
    oneOf(name, 'final_sigmas_type', this.config.final_sigmas_type, ['zero', 'sigma_min']);
    if (![1, 2].includes(this.config.solver_order)) throw new Error(`scheduler ${name}: solver_order ${this.config.solver_order} is not supported (use 1 or 2)`);
    if (this.config.thresholding) throw new Error(`scheduler ${name}: thresholding is not supported`);
    this.ac = alphasCumprod(name, this.config);
    if (this.config.rescale_betas_zero_snr) this.ac[this.ac.length - 1] = 2 ** -24;
  }

  setTimesteps(n: number): void {
    const c = this.config, T = c.num_train_timesteps;
    if (!Number.isInteger(n) || n < 1 || n > T) throw new Error(`scheduler dpmpp-2m: steps must be an integer in 1..${T}, got ${n}`);
    let ts: number[];
    if (c.timestep_spacing === 'linspace') ts = Array.from(linspace(0, T - 1, n + 1), roundHalfEven).reverse().slice(0, -1);
    else if (c.timestep_spacing === 'leading') {
      const ratio = Math.floor(T / (n + 1));
      ts = checkTimesteps('dpmpp-2m', c, Array.from({ length: n + 1 }, (_, i) => i * ratio).reverse().slice(0, -1).map((t) => t + c.steps_offset));
    } else if (c.timestep_spacing === 'trailing') {
      const ratio = T / n;
      ts = Array.from({ length: Math.ceil(T / ratio) }, (_, i) => roundHalfEven(T - i * ratio) - 1);
    } else throw new Error(`scheduler dpmpp-2m: timestep_spacing "${c.timestep_spacing}" is not supported`);
    const train = trainSigmas(this.ac);
    let sig: number[];
    if (c.use_karras_sigmas) {
      sig = karrasSigmas(train[train.length - 1]!, train[0]!, n);
      const logSigmas = train.map(Math.log);
      ts = sig.map((s) => roundHalfEven(sigmaToT(s, logSigmas)));
    } else sig = ts.map((t) => interp(t, train));
    const last = c.final_sigmas_type === 'sigma_min' ? train[0]! : 0;
    this.sigmas = [...sig, last].map(Math.fround);
    this.timesteps = ts;
    this.lastX0 = undefined;
    this.lowerOrderNums = 0;
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

  /** α_t and σ_t of the VP process at this σ. */
  private alphaSigma(sigma: number): [number, number] {
    const a = 1 / Math.sqrt(sigma * sigma + 1);
    return [a, sigma * a];
  }

  /** x0 from the output (m0), then the first- or second-order update with the previous step's x0 (m1). */
  linearStep(t: number): LinearStep {
    const c = this.config;
    const i = this.index.get(this.timesteps, t);
    const n = this.timesteps.length;
    const lowerFinal = i === n - 1 && (c.euler_at_final || (c.lower_order_final && n < 15) || c.final_sigmas_type === 'zero');
    const [a0, s0] = this.alphaSigma(this.sigmas[i]!);
    const x0 = c.prediction_type === 'epsilon' ? { p: 1 / a0, q: -s0 / a0 } : c.prediction_type === 'v_prediction' ? { p: a0, q: -s0 } : {};

    const [at, st] = this.alphaSigma(this.sigmas[i + 1]!);
    const lambda = (a: number, s: number): number => Math.log(a) - Math.log(s);
    const h = lambda(at, st) - lambda(a0, s0);
    const em1 = Math.exp(-h) - 1;
    let update: Partial<LinearStep>;
    if (c.solver_order === 1 || this.lowerOrderNums < 1 || lowerFinal) {
      update = { a: st / s0, c: -at * em1 };
    } else {
      const [a1, s1] = this.alphaSigma(this.sigmas[i - 1]!);
      const r0 = (lambda(a0, s0) - lambda(a1, s1)) / h;
      // D1 = (m0 - m1) / r0
      const d1 = c.solver_type === 'midpoint' ? -0.5 * at * em1 : at * (em1 / h + 1);
      update = { a: st / s0, c: -at * em1 + d1 / r0, d: -d1 / r0 };
    }
    if (this.lowerOrderNums < c.solver_order) this.lowerOrderNums++;
    this.index.advance();
    return linearStep({ ...x0, ...update });
  }

  step(out: Float32Array, t: number, x: Float32Array, noise: () => Float32Array): Float32Array {
    const { prev, x0 } = applyStep(this.linearStep(t), out, x, this.lastX0, noise);
    this.lastX0 = x0;
    return prev;
  }

  addNoise(x0: Float32Array, noise: Float32Array, t: number): Float32Array {
    const [a, s] = this.alphaSigma(this.sigmas[this.index.forNoise(this.timesteps, t)]!);
    return lincomb(a, x0, s, noise);
  }
}
