import { addNoiseAlphaBar, alphasCumprod, BETA_DEFAULTS, oneOf, resolveConfig, spacedTimesteps } from './schedule';
import { lincomb, type Scheduler, type SchedulerConfig } from './scheduler';

const DEFAULTS = { ...BETA_DEFAULTS, skip_prk_steps: false, set_alpha_to_one: false };

/** PNDM (Liu et al. 2022): Runge-Kutta warm-up (unless skip_prk_steps), then linear multistep (PLMS). */
export class PNDMScheduler implements Scheduler {
  readonly config: typeof DEFAULTS;
  readonly initNoiseSigma = 1;
  readonly order = 1;
  timesteps: number[] = [];
  private readonly ac: Float32Array;
  private readonly finalAlphaCumprod: number;
  private n = 0;
  private prkCount = 0;
  private counter = 0;
  private ets: Float32Array[] = [];
  private curSample: Float32Array | undefined;
  private curModelOutput: Float32Array | undefined;
  private prk: number[] = [];

  constructor(file: SchedulerConfig) {
    this.config = resolveConfig('pndm', DEFAULTS, file);
    oneOf('pndm', 'prediction_type', this.config.prediction_type, ['epsilon', 'v_prediction']);
    this.ac = alphasCumprod('pndm', this.config);
    this.finalAlphaCumprod = this.config.set_alpha_to_one ? 1 : this.ac[0]!;
  }

  setTimesteps(n: number): void {
    this.n = n;
    // diffusers keeps PNDM's base timesteps ascending
    const base = spacedTimesteps('pndm', this.config, n).reverse();
    if (this.config.skip_prk_steps) {
      this.prk = [];
      const plms = [...base.slice(0, -1), base[base.length - 2]!, base[base.length - 1]!].filter((t) => t !== undefined);
      this.timesteps = plms.reverse();
    } else {
      const half = Math.floor(Math.floor(this.config.num_train_timesteps / n) / 2);
      const last4 = base.slice(-4).flatMap((t) => [t, t + half]);
      const rep = last4.slice(0, -1).flatMap((t) => [t, t]).slice(1, -1);
      this.prk = rep.reverse();
      this.timesteps = [...this.prk, ...base.slice(0, -3).reverse()];
    }
    this.prkCount = this.prk.length;
    this.counter = 0;
    this.ets = [];
    this.curSample = undefined;
    this.curModelOutput = undefined;
  }

  setBeginIndex(): void {}

  scaleModelInput(sample: Float32Array): Float32Array {
    return sample;
  }

  step(out: Float32Array, t: number, x: Float32Array): Float32Array {
    return this.counter < this.prkCount && !this.config.skip_prk_steps ? this.stepPrk(out, t, x) : this.stepPlms(out, t, x);
  }

  private stepPrk(out: Float32Array, t: number, x: Float32Array): Float32Array {
    const half = Math.floor(Math.floor(this.config.num_train_timesteps / this.n) / 2);
    const prevT = t - (this.counter % 2 ? 0 : half);
    const baseT = this.prk[Math.floor(this.counter / 4) * 4]!;
    const k = this.counter % 4;
    let m = out;
    const acc = (w: number): Float32Array => (this.curModelOutput ? lincomb(1, this.curModelOutput, w, out) : lincomb(0, out, w, out));
    if (k === 0) {
      this.curModelOutput = acc(1 / 6);
      this.ets.push(out);
      this.curSample = x;
    } else if (k === 1 || k === 2) {
      this.curModelOutput = acc(1 / 3);
    } else {
      m = acc(1 / 6);
      this.curModelOutput = undefined;
    }
    const prev = this.prevSample(this.curSample ?? x, baseT, prevT, m);
    this.counter++;
    return prev;
  }

  private stepPlms(out: Float32Array, t: number, x: Float32Array): Float32Array {
    const stride = Math.floor(this.config.num_train_timesteps / this.n);
    if (!this.config.skip_prk_steps && this.ets.length < 3) throw new Error('scheduler pndm: PLMS needs the PRK warm-up first');
    let prevT = t - stride;
    if (this.counter !== 1) {
      this.ets = this.ets.slice(-3);
      this.ets.push(out);
    } else {
      prevT = t;
      t = t + stride;
    }
    const e = this.ets;
    let m: Float32Array;
    if (e.length === 1 && this.counter === 0) {
      m = out;
      this.curSample = x;
    } else if (e.length === 1 && this.counter === 1) {
      m = lincomb(0.5, out, 0.5, e[0]!);
      x = this.curSample!;
      this.curSample = undefined;
    } else if (e.length === 2) {
      m = lincomb(1.5, e[1]!, -0.5, e[0]!);
    } else if (e.length === 3) {
      m = lincomb(23 / 12, e[2]!, -16 / 12, e[1]!, 5 / 12, e[0]!);
    } else {
      const r = new Float32Array(out.length);
      for (let i = 0; i < r.length; i++) r[i] = (55 * e[3]![i]! - 59 * e[2]![i]! + 37 * e[1]![i]! - 9 * e[0]![i]!) / 24;
      m = r;
    }
    const prev = this.prevSample(x, t, prevT, m);
    this.counter++;
    return prev;
  }

  /** Formula (9) of the PNDM paper. */
  private prevSample(x: Float32Array, t: number, prevT: number, m: Float32Array): Float32Array {
    const a = this.ac[t]!;
    const aPrev = prevT >= 0 ? this.ac[prevT]! : this.finalAlphaCumprod;
    const b = 1 - a, bPrev = 1 - aPrev;
    if (this.config.prediction_type === 'v_prediction') m = lincomb(Math.sqrt(a), m, Math.sqrt(b), x);
    const sampleCoeff = Math.sqrt(aPrev / a);
    const denom = a * Math.sqrt(bPrev) + Math.sqrt(a * b * aPrev);
    return lincomb(sampleCoeff, x, -(aPrev - a) / denom, m);
  }

  addNoise(x0: Float32Array, noise: Float32Array, t: number): Float32Array {
    return addNoiseAlphaBar(this.ac, x0, noise, t);
  }
}
