import type { LinearStep, SchedulerConfig } from './scheduler';

/** The config keys every discrete-time SD scheduler shares, with diffusers' defaults. */
export const BETA_DEFAULTS = {
  num_train_timesteps: 1000,
  beta_start: 0.0001,
  beta_end: 0.02,
  beta_schedule: 'linear',
  trained_betas: null as number[] | null,
  prediction_type: 'epsilon',
  timestep_spacing: 'leading',
  steps_offset: 0,
  rescale_betas_zero_snr: false,
};

/**
 * The file's values for the keys a scheduler knows, over its defaults (unknown keys ignored, as
 * diffusers does); every number must be finite (JSON's 1e999 parses as Infinity).
 */
export function resolveConfig<T extends Record<string, unknown>>(name: string, defaults: T, file: SchedulerConfig): T {
  const out: Record<string, unknown> = { ...defaults };
  for (const key of Object.keys(defaults)) {
    const v = file[key];
    if (v === undefined) continue;
    const d = defaults[key];
    const ok = d === null || v === null ? true : typeof v === typeof d;
    if (!ok) throw new Error(`scheduler ${name}: config key "${key}" should be a ${typeof d}, got ${JSON.stringify(v)}`);
    if (typeof v === 'number' && !Number.isFinite(v)) throw new Error(`scheduler ${name}: config key "${key}" must be a finite number, got ${v}`);
    out[key] = v;
  }
  return out as T;
}

export function oneOf(name: string, key: string, value: unknown, allowed: readonly string[]): void {
  if (!allowed.includes(value as string)) {
    throw new Error(`scheduler ${name}: ${key} "${String(value)}" is not supported (use ${allowed.join(', ')})`);
  }
}

/** Bounds the tables a config can ask for (diffusers' models train on 1000). */
export const MAX_TRAIN_TIMESTEPS = 10_000;

/** `value` must be an integer in [min, max]. */
export function intIn(name: string, key: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) throw new Error(`scheduler ${name}: config key "${key}" must be an integer in ${min}..${max}, got ${value}`);
}

/** `value` must lie strictly between 0 and 1, as a beta (a noise variance per step) does. */
function beta(name: string, key: string, value: unknown): void {
  if (typeof value !== 'number' || !(value > 0 && value < 1)) throw new Error(`scheduler ${name}: config key "${key}" must be a number in (0, 1), got ${JSON.stringify(value)}`);
}

/**
 * The checks every discrete-time scheduler shares, at construction: betas, counts and offsets
 * where the schedule stays meaningful (a bad one gives NaN latents and a black image, not an error).
 */
function checkBetaConfig(name: string, c: typeof BETA_DEFAULTS): void {
  const T = c.num_train_timesteps;
  intIn(name, 'num_train_timesteps', T, 1, MAX_TRAIN_TIMESTEPS);
  intIn(name, 'steps_offset', c.steps_offset, 0, T - 1);
  oneOf(name, 'timestep_spacing', c.timestep_spacing, ['linspace', 'leading', 'trailing']);
  oneOf(name, 'prediction_type', c.prediction_type, ['epsilon', 'v_prediction', 'sample']);
  if (c.trained_betas !== null) {
    const tb: unknown = c.trained_betas;
    if (!Array.isArray(tb)) throw new Error(`scheduler ${name}: config key "trained_betas" should be null or an array of numbers, got ${JSON.stringify(tb).slice(0, 40)}`);
    if (tb.length !== T) throw new Error(`scheduler ${name}: trained_betas has ${tb.length} values, expected ${T}`);
    tb.forEach((b, i) => beta(name, `trained_betas[${i}]`, b));
    return;
  }
  beta(name, 'beta_start', c.beta_start);
  beta(name, 'beta_end', c.beta_end);
  if (c.beta_schedule !== 'squaredcos_cap_v2' && !(c.beta_start < c.beta_end)) {
    throw new Error(`scheduler ${name}: config key "beta_start" (${c.beta_start}) must be below "beta_end" (${c.beta_end})`);
  }
}

/** Every timestep must index the training schedule (a large steps_offset pushes `leading` past its end). */
export function checkTimesteps(name: string, c: typeof BETA_DEFAULTS, ts: readonly number[]): number[] {
  const T = c.num_train_timesteps;
  const bad = ts.find((t) => !(t >= 0 && t < T));
  if (bad !== undefined) throw new Error(`scheduler ${name}: ${ts.length} steps with steps_offset ${c.steps_offset} reach timestep ${bad}, outside the ${T} training timesteps`);
  return [...ts];
}

const f32 = Math.fround;

/** betas and their cumulative alpha products, in float32 as torch computes them. */
export function alphasCumprod(name: string, c: typeof BETA_DEFAULTS): Float32Array {
  checkBetaConfig(name, c);
  const n = c.num_train_timesteps;
  let betas: Float64Array;
  if (c.trained_betas) {
    betas = Float64Array.from(c.trained_betas, f32);
  } else if (c.beta_schedule === 'linear') {
    betas = linspace(c.beta_start, c.beta_end, n).map(f32);
  } else if (c.beta_schedule === 'scaled_linear') {
    betas = linspace(Math.sqrt(c.beta_start), Math.sqrt(c.beta_end), n).map((b) => f32(f32(b) * f32(b)));
  } else if (c.beta_schedule === 'squaredcos_cap_v2') {
    const ab = (t: number): number => Math.cos(((t + 0.008) / 1.008) * Math.PI / 2) ** 2;
    betas = Float64Array.from({ length: n }, (_, i) => f32(Math.min(1 - ab((i + 1) / n) / ab(i / n), 0.999)));
  } else {
    throw new Error(`scheduler ${name}: beta_schedule "${c.beta_schedule}" is not supported (use linear, scaled_linear, squaredcos_cap_v2)`);
  }
  if (c.rescale_betas_zero_snr) betas = rescaleZeroTerminalSnr(betas);
  const out = new Float32Array(n);
  let acc = 1;
  for (let i = 0; i < n; i++) out[i] = acc = f32(acc * f32(1 - betas[i]!));
  return out;
}

function rescaleZeroTerminalSnr(betas: Float64Array): Float64Array {
  const n = betas.length;
  const sqrtBar = new Float64Array(n);
  let acc = 1;
  for (let i = 0; i < n; i++) sqrtBar[i] = Math.sqrt((acc *= 1 - betas[i]!));
  const first = sqrtBar[0]!, last = sqrtBar[n - 1]!;
  const bar = sqrtBar.map((s) => ((s - last) * first / (first - last)) ** 2);
  return bar.map((b, i) => f32(1 - (i === 0 ? b : b / bar[i - 1]!)));
}

export function linspace(a: number, b: number, n: number): Float64Array {
  if (n === 1) return Float64Array.of(a);
  return Float64Array.from({ length: n }, (_, i) => a + ((b - a) * i) / (n - 1));
}

/** numpy's round: half to even. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * The discrete timesteps of `linspace` / `leading` / `trailing` spacing, descending, as diffusers
 * builds them (numpy semantics: arange, round half to even, int64).
 */
export function spacedTimesteps(name: string, c: typeof BETA_DEFAULTS, n: number): number[] {
  const T = c.num_train_timesteps;
  if (!Number.isInteger(n) || n < 1) throw new Error(`scheduler ${name}: steps must be a positive integer, got ${n}`);
  if (n > T) throw new Error(`scheduler ${name}: ${n} steps cannot be more than the ${T} training timesteps`);
  switch (c.timestep_spacing) {
    case 'linspace':
      return Array.from(linspace(0, T - 1, n), roundHalfEven).reverse();
    case 'leading': {
      const ratio = Math.floor(T / n);
      return checkTimesteps(name, c, Array.from({ length: n }, (_, i) => i * ratio + c.steps_offset).reverse());
    }
    case 'trailing': {
      const ratio = T / n; // numpy arange(T, 0, -ratio): ceil(T / ratio) values T - i*ratio
      return Array.from({ length: Math.ceil(T / ratio) }, (_, i) => roundHalfEven(T - i * ratio) - 1);
    }
    default:
      throw new Error(`scheduler ${name}: timestep_spacing "${c.timestep_spacing}" is not supported (use linspace, leading, trailing)`);
  }
}

/** numpy.interp over integer abscissae 0..table.length-1. */
export function interp(x: number, table: ArrayLike<number>): number {
  if (x <= 0) return table[0]!;
  if (x >= table.length - 1) return table[table.length - 1]!;
  const i = Math.floor(x);
  const w = x - i;
  return table[i]! + (table[i + 1]! - table[i]!) * w;
}

/** σ(t) = sqrt((1 - ᾱ) / ᾱ) per training timestep, float32 as torch computes it. */
export function trainSigmas(ac: Float32Array): Float32Array {
  return ac.map((a) => f32(Math.sqrt(f32(f32(1 - a) / a))));
}

/** Index of `t` in `timesteps`: the second match when there are two (diffusers' rule for img2img). */
export function indexForTimestep(timesteps: readonly number[], t: number): number {
  const hits = timesteps.flatMap((x, i) => (x === t ? [i] : []));
  if (hits.length === 0) throw new Error(`timestep ${t} is not in this scheduler's timesteps`);
  return hits.length > 1 ? hits[1]! : hits[0]!;
}

/** x_t = sqrt(ᾱ_t) x0 + sqrt(1 - ᾱ_t) ε: add_noise of the ᾱ-parameterised schedulers. */
export function addNoiseAlphaBar(ac: Float32Array, x0: Float32Array, noise: Float32Array, t: number): Float32Array {
  const a = ac[t];
  if (a === undefined) throw new Error(`timestep ${t} is outside the ${ac.length} training timesteps`);
  const out = new Float32Array(x0.length);
  const sa = Math.sqrt(a), sb = Math.sqrt(1 - a);
  for (let i = 0; i < x0.length; i++) out[i] = sa * x0[i]! + sb * noise[i]!;
  return out;
}

/**
 * x0 predicted from the model output at ᾱ_t (epsilon, v or sample prediction), clipped to
 * ±clip when the config asks, as LinearStep coefficients: the first half of DDIM's and LCM's step.
 */
export function originalCoefficients(predictionType: string, alphaBar: number, clip?: number): Pick<LinearStep, 'p' | 'q' | 'r' | 'clip'> {
  const sa = Math.sqrt(alphaBar), sb = Math.sqrt(1 - alphaBar);
  const c = predictionType === 'epsilon' ? { p: 1, q: -sb, r: sa } : predictionType === 'v_prediction' ? { p: sa, q: -sb, r: 1 } : { p: 0, q: 1, r: 1 };
  return clip === undefined ? c : { ...c, clip };
}
