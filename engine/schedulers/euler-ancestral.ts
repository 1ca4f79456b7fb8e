import { EulerScheduler } from './euler';
import { eulerTimesteps } from './euler-timesteps';
import { interp, trainSigmas } from './schedule';
import { lincomb, type SchedulerConfig } from './scheduler';

/** Euler ancestral: an Euler step down to σ_down, then fresh noise of σ_up from the run's generator. */
export class EulerAncestralScheduler extends EulerScheduler {
  constructor(file: SchedulerConfig) {
    super(file, 'euler-a');
    if (this.config.use_karras_sigmas) throw new Error('scheduler euler-a: use_karras_sigmas is not supported by Euler ancestral');
  }

  override setTimesteps(n: number): void {
    const train = trainSigmas(this.ac);
    const ts = eulerTimesteps('euler-a', this.config, n);
    this.sigmas = [...ts.map((t) => interp(t, train)), 0].map(Math.fround);
    this.timesteps = ts.map(Math.fround);
    this.index.reset();
  }

  override step(out: Float32Array, t: number, x: Float32Array, noise: () => Float32Array): Float32Array {
    const i = this.index.get(this.timesteps, t);
    const from = this.sigmas[i]!, to = this.sigmas[i + 1]!;
    const x0 = this.predictX0(out, x, from);
    const up = Math.sqrt((to * to * (from * from - to * to)) / (from * from));
    const down = Math.sqrt(to * to - up * up);
    const dt = down - from;
    const prev = lincomb(1 + dt / from, x, -dt / from, x0);
    const z = noise(); // drawn at every step, the last included, as diffusers does
    for (let k = 0; k < prev.length; k++) prev[k] = prev[k]! + z[k]! * up;
    this.index.advance();
    return prev;
  }
}
