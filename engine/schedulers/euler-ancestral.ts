import { EulerScheduler } from './euler';
import { eulerTimesteps } from './euler-timesteps';
import { interp, trainSigmas } from './schedule';
import { linearStep, type LinearStep, type SchedulerConfig } from './scheduler';

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

  override linearStep(t: number): LinearStep {
    const i = this.index.get(this.timesteps, t);
    const from = this.sigmas[i]!, to = this.sigmas[i + 1]!;
    const up = Math.sqrt((to * to * (from * from - to * to)) / (from * from));
    const down = Math.sqrt(to * to - up * up);
    const dt = down - from;
    this.index.advance();
    // noise drawn at every step, the last included, as diffusers does
    return linearStep({ ...this.x0Coefficients(from), a: 1 + dt / from, c: -dt / from, noise: { w: 1, k: up } });
  }
}
