import { indexForTimestep, linspace } from './schedule';

/**
 * Shared by the σ-parameterised (Karras/k-diffusion style) schedulers: the step index they keep,
 * and the σ ↔ t conversions diffusers uses.
 */
export class StepIndex {
  private begin: number | undefined;
  private current: number | undefined;

  reset(): void {
    this.begin = this.current = undefined;
  }
  setBegin(i: number): void {
    this.begin = i;
  }
  /** The index of this step: the begin index, else where `t` sits in the timesteps. */
  get(timesteps: readonly number[], t: number): number {
    this.current ??= this.begin ?? indexForTimestep(timesteps, t);
    return this.current;
  }
  advance(): void {
    this.current!++;
  }
  /** For add_noise: the current step, else the begin index, else where `t` sits. */
  forNoise(timesteps: readonly number[], t: number): number {
    return this.current ?? this.begin ?? indexForTimestep(timesteps, t);
  }
}

/** Karras et al. (2022) ρ = 7 schedule between the given extremes, descending. */
export function karrasSigmas(sigmaMax: number, sigmaMin: number, n: number): number[] {
  const rho = 7;
  const maxInv = sigmaMax ** (1 / rho), minInv = sigmaMin ** (1 / rho);
  return Array.from(linspace(0, 1, n), (r) => (maxInv + r * (minInv - maxInv)) ** rho);
}

/** The (fractional) training timestep whose σ is `sigma`, interpolated in log σ. */
export function sigmaToT(sigma: number, logSigmas: Float32Array): number {
  const logSigma = Math.log(Math.max(sigma, 1e-10));
  let low = 0;
  for (let i = 0; i < logSigmas.length; i++) if (logSigma - logSigmas[i]! >= 0) low = i;
  low = Math.min(low, logSigmas.length - 2);
  const lo = logSigmas[low]!, hi = logSigmas[low + 1]!;
  const w = Math.min(1, Math.max(0, (lo - logSigma) / (lo - hi)));
  return (1 - w) * low + w * (low + 1);
}
