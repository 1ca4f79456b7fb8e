import { BETA_DEFAULTS, linspace, roundHalfEven, spacedTimesteps } from './schedule';

/**
 * The Euler family's timesteps: like the others, but `linspace` keeps fractional float32
 * timesteps (no rounding), and `trailing` keeps numpy's float arange.
 */
export function eulerTimesteps(name: string, c: typeof BETA_DEFAULTS, n: number): number[] {
  if (c.timestep_spacing === 'linspace') {
    spacedTimesteps(name, c, n); // same validation
    return Array.from(linspace(0, c.num_train_timesteps - 1, n), Math.fround).reverse();
  }
  if (c.timestep_spacing === 'trailing') {
    const T = c.num_train_timesteps, ratio = T / n;
    spacedTimesteps(name, c, n);
    return Array.from({ length: Math.ceil(T / ratio) }, (_, i) => roundHalfEven(T - i * ratio) - 1);
  }
  return spacedTimesteps(name, c, n);
}
