/**
 * Pure pixel maths shared by the renderer's worker and the host: PSNR, SSIM (mean and map), the
 * difference heatmap with colormaps, latency statistics, the Pareto frontier, latent previews.
 * No node, electron or DOM imports: typed arrays in, typed arrays out.
 */

/** An image as any side holds it: 3 (RGB) or 4 (RGBA, alpha ignored) channels, values 0..`max`. */
export interface Pixels {
  width: number;
  height: number;
  channels: 3 | 4;
  data: ArrayLike<number>;
  /** 1 for float images in [0, 1], 255 for 8-bit ones. */
  max: number;
}

function checkSameSize(a: Pixels, b: Pixels): void {
  if (a.width !== b.width || a.height !== b.height) throw new Error(`images differ in size: ${a.width}x${a.height} vs ${b.width}x${b.height}`);
}

/** PSNR in dB over the RGB channels, values scaled to [0, 1]; null when the images are identical. */
export function psnr(a: Pixels, b: Pixels): number | null {
  checkSameSize(a, b);
  let se = 0;
  const n = a.width * a.height;
  for (let p = 0; p < n; p++) {
    for (let c = 0; c < 3; c++) se += (a.data[p * a.channels + c]! / a.max - b.data[p * b.channels + c]! / b.max) ** 2;
  }
  const mse = se / (n * 3);
  return mse === 0 ? null : 10 * Math.log10(1 / mse);
}

/** Rec. 601 luma in [0, 1]: SSIM is computed on it, as most tools do for RGB. */
export function luma(img: Pixels): Float32Array {
  const n = img.width * img.height, out = new Float32Array(n), k = img.channels, d = img.data;
  for (let p = 0; p < n; p++) out[p] = (0.299 * d[p * k]! + 0.587 * d[p * k + 1]! + 0.114 * d[p * k + 2]!) / img.max;
  return out;
}

/** Separable Gaussian blur with clamped borders (the SSIM window: 11 taps, sigma 1.5). */
function blur(src: Float32Array, w: number, h: number, kernel: Float32Array): Float32Array {
  const r = (kernel.length - 1) / 2, tmp = new Float32Array(w * h), out = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let s = 0;
      for (let k = -r; k <= r; k++) s += kernel[k + r]! * src[y * w + Math.min(w - 1, Math.max(0, x + k))]!;
      tmp[y * w + x] = s;
    }
  }
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let s = 0;
      for (let k = -r; k <= r; k++) s += kernel[k + r]! * tmp[Math.min(h - 1, Math.max(0, y + k)) * w + x]!;
      out[y * w + x] = s;
    }
  }
  return out;
}

function gaussian(size = 11, sigma = 1.5): Float32Array {
  const r = (size - 1) / 2, k = new Float32Array(size);
  let sum = 0;
  for (let i = 0; i < size; i++) sum += k[i] = Math.exp(-((i - r) ** 2) / (2 * sigma * sigma));
  return k.map((v) => v / sum);
}

/**
 * SSIM (Wang et al. 2004) on luma: Gaussian window 11/1.5, K1 0.01, K2 0.03, L 1. Returns the
 * per-pixel map and its mean.
 */
export function ssim(a: Pixels, b: Pixels): { mean: number; map: Float32Array } {
  checkSameSize(a, b);
  const { width: w, height: h } = a;
  const x = luma(a), y = luma(b), n = w * h, g = gaussian();
  const xx = new Float32Array(n), yy = new Float32Array(n), xy = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    xx[i] = x[i]! * x[i]!;
    yy[i] = y[i]! * y[i]!;
    xy[i] = x[i]! * y[i]!;
  }
  const mx = blur(x, w, h, g), my = blur(y, w, h, g), sxx = blur(xx, w, h, g), syy = blur(yy, w, h, g), sxy = blur(xy, w, h, g);
  const C1 = 0.01 ** 2, C2 = 0.03 ** 2, map = new Float32Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const ux = mx[i]!, uy = my[i]!;
    const vx = sxx[i]! - ux * ux, vy = syy[i]! - uy * uy, cov = sxy[i]! - ux * uy;
    sum += map[i] = ((2 * ux * uy + C1) * (2 * cov + C2)) / ((ux * ux + uy * uy + C1) * (vx + vy + C2));
  }
  return { mean: sum / n, map };
}

/** Mean absolute RGB difference per pixel, in [0, 1]. */
export function absDiff(a: Pixels, b: Pixels): Float32Array {
  checkSameSize(a, b);
  const n = a.width * a.height, out = new Float32Array(n);
  for (let p = 0; p < n; p++) {
    let s = 0;
    for (let c = 0; c < 3; c++) s += Math.abs(a.data[p * a.channels + c]! / a.max - b.data[p * b.channels + c]! / b.max);
    out[p] = s / 3;
  }
  return out;
}

export const COLORMAPS = ['inferno', 'viridis', 'turbo', 'gray'] as const;
export type Colormap = (typeof COLORMAPS)[number];

// Polynomial fits of matplotlib's viridis/inferno (Matt Zucker) and Google's turbo: no tables to ship.
const POLY: Record<'inferno' | 'viridis', number[][]> = {
  inferno: [
    [0.0002189403691192265, 0.001651004631001012, -0.01948089843709184], [0.1065134194856116, 0.5639564367884091, 3.932712388889277],
    [11.60249308247187, -3.972853965665698, -15.9423941062914], [-41.70399613139459, 17.43639888205313, 44.35414519872813],
    [77.162935699427, -33.40235894210092, -81.80730925738993], [-71.31942824499214, 32.62606426397723, 73.20951985803202],
    [25.13112622477341, -12.24266895238567, -23.07032500287172],
  ],
  viridis: [
    [0.2777273272234177, 0.005407344544966578, 0.3340998053353061], [0.1050930431085774, 1.404613529898575, 1.384590162594685],
    [-0.3308618287255563, 0.214847559468213, 0.09509516302823659], [-4.634230498983486, -5.799100973351585, -19.33244095627987],
    [6.228269936347081, 14.17993336680509, 56.69055260068105], [4.776384997670288, -13.74514537774601, -65.35303263337234],
    [-5.435455855934631, 4.645852612178535, 26.3124352495832],
  ],
};
const TURBO = [
  [0.13572138, 4.6153926, -42.66032258, 132.13108234, -152.94239396, 59.28637943],
  [0.09140261, 2.19418839, 4.84296658, -14.18503333, 4.27729857, 2.82956604],
  [0.1066733, 12.64194608, -60.58204836, 110.36276771, -89.90310912, 27.34824973],
];

/** The colour of t in [0, 1] as 8-bit RGB. */
export function colormap(name: Colormap, t: number): [number, number, number] {
  const x = Math.min(1, Math.max(0, t));
  let rgb: number[];
  if (name === 'gray') rgb = [x, x, x];
  else if (name === 'turbo') rgb = TURBO.map((c) => c.reduce((s, k, i) => s + k * x ** i, 0));
  else rgb = [0, 1, 2].map((ch) => POLY[name].reduce((s, k, i) => s + k[ch]! * x ** i, 0));
  return rgb.map((v) => Math.round(Math.min(1, Math.max(0, v)) * 255)) as [number, number, number];
}

function lut(name: Colormap): Uint8Array {
  const t = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) t.set(colormap(name, i / 255), i * 3);
  return t;
}

/** A scalar map (values in [0, 1] before gain) as RGBA pixels through a colormap. */
export function heatmap(values: Float32Array, gain: number, name: Colormap): Uint8ClampedArray {
  const table = lut(name), out = new Uint8ClampedArray(values.length * 4);
  for (let i = 0; i < values.length; i++) {
    const k = Math.min(255, Math.max(0, Math.round(values[i]! * gain * 255))) * 3;
    out[i * 4] = table[k]!;
    out[i * 4 + 1] = table[k + 1]!;
    out[i * 4 + 2] = table[k + 2]!;
    out[i * 4 + 3] = 255;
  }
  return out;
}

/** RGBA to RGB (8-bit), for encoders that take three channels. */
export function rgbaToRgb(rgba: ArrayLike<number>): Uint8Array {
  const n = rgba.length / 4, out = new Uint8Array(n * 3);
  for (let p = 0; p < n; p++) for (let c = 0; c < 3; c++) out[p * 3 + c] = rgba[p * 4 + c]!;
  return out;
}

/** Box-filter downscale to fit `maxSide` (thumbnails), 8-bit RGB out. */
/** ‖b − a‖ / ‖a‖: how far B's latents have drifted from A's (0 = identical). */
export function relativeL2(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`relativeL2: lengths differ (${a.length} vs ${b.length})`);
  let d = 0, n = 0;
  for (let i = 0; i < a.length; i++) {
    d += (b[i]! - a[i]!) ** 2;
    n += a[i]! ** 2;
  }
  return n > 0 ? Math.sqrt(d / n) : Math.sqrt(d);
}

export function downscale(img: Pixels, maxSide: number): { width: number; height: number; data: Uint8Array } {
  const f = Math.max(1, Math.ceil(Math.max(img.width, img.height) / maxSide));
  const w = Math.max(1, Math.floor(img.width / f)), h = Math.max(1, Math.floor(img.height / f)), out = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < 3; c++) {
        let s = 0;
        for (let dy = 0; dy < f; dy++) for (let dx = 0; dx < f; dx++) s += img.data[((y * f + dy) * img.width + x * f + dx) * img.channels + c]!;
        out[(y * w + x) * 3 + c] = Math.round((s / (f * f) / img.max) * 255);
      }
    }
  }
  return { width: w, height: h, data: out };
}

// SD 1.x latent -> RGB linear approximation (the factors A1111 and ComfyUI use for cheap previews).
const LATENT_RGB = [
  [0.3512, 0.2297, 0.3227],
  [0.325, 0.4974, 0.235],
  [-0.2829, 0.1762, 0.2721],
  [-0.212, -0.2616, -0.7177],
];

/** Latent -> RGB in [0, 1]: one row per latent channel, then a bias row. */
export type LatentFactors = number[][];

/** SD 1.x's factors as a LatentFactors table ((v + 1) / 2 of the A1111 mapping): the guess before a model's own fit. */
export const SD_LATENT_FACTORS: LatentFactors = [...LATENT_RGB.map((r) => r.map((v) => v / 2)), [0.5, 0.5, 0.5]];

/** The first image of a [b, 4, h, w] latent batch as 8-bit RGB at latent resolution. */
export function latentsToRgb(latents: ArrayLike<number>, dims: readonly number[], factors: LatentFactors = SD_LATENT_FACTORS): { width: number; height: number; data: Uint8Array } {
  const [, ch = 4, h = 1, w = 1] = dims;
  const n = h * w, out = new Uint8Array(n * 3), k4 = Math.min(4, ch), bias = factors[factors.length - 1]!;
  for (let p = 0; p < n; p++) {
    for (let c = 0; c < 3; c++) {
      let v = bias[c]!;
      for (let k = 0; k < k4; k++) v += latents[k * n + p]! * factors[k]![c]!;
      out[p * 3 + c] = Math.round(Math.min(1, Math.max(0, v)) * 255);
    }
  }
  return { width: w, height: h, data: out };
}

/**
 * A model's own latent -> RGB factors, by least squares from a run's final latents to its decoded
 * image box-averaged to latent resolution. SD 1.x's fixed factors are wrong for any other VAE (the
 * embedded model's previews came out dark and green); a fit from the model's last run is not.
 * Undefined when the fit is singular (a flat image).
 */
export function fitLatentFactors(latents: ArrayLike<number>, dims: readonly number[], image: { width: number; height: number; data: ArrayLike<number> }): LatentFactors | undefined {
  const [, ch = 4, h = 1, w = 1] = dims;
  const k4 = Math.min(4, ch), m = k4 + 1, n = h * w;
  const sx = image.width / w, sy = image.height / h;
  const ata = Array.from({ length: m }, () => new Array<number>(m).fill(0));
  const atb = Array.from({ length: m }, () => [0, 0, 0]);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const target = [0, 0, 0];
    let count = 0;
    for (let iy = Math.floor(y * sy); iy < Math.floor((y + 1) * sy); iy++) for (let ix = Math.floor(x * sx); ix < Math.floor((x + 1) * sx); ix++) {
      for (let c = 0; c < 3; c++) target[c]! += image.data[(iy * image.width + ix) * 3 + c]!;
      count++;
    }
    if (!count) continue;
    const row = [...Array.from({ length: k4 }, (_, k) => latents[k * n + y * w + x]!), 1];
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < m; j++) ata[i]![j]! += row[i]! * row[j]!;
      for (let c = 0; c < 3; c++) atb[i]![c]! += row[i]! * (target[c]! / count);
    }
  }
  // Gauss-Jordan with partial pivoting on the 5x5 normal equations (three right-hand sides)
  for (let i = 0; i < m; i++) {
    let piv = i;
    for (let r = i + 1; r < m; r++) if (Math.abs(ata[r]![i]!) > Math.abs(ata[piv]![i]!)) piv = r;
    if (Math.abs(ata[piv]![i]!) < 1e-9) return undefined;
    [ata[i], ata[piv]] = [ata[piv]!, ata[i]!];
    [atb[i], atb[piv]] = [atb[piv]!, atb[i]!];
    for (let r = 0; r < m; r++) {
      if (r === i) continue;
      const f = ata[r]![i]! / ata[i]![i]!;
      for (let j = i; j < m; j++) ata[r]![j]! -= f * ata[i]![j]!;
      for (let c = 0; c < 3; c++) atb[r]![c]! -= f * atb[i]![c]!;
    }
  }
  return atb.map((row, i) => row.map((v) => v / ata[i]![i]!));
}

// ---- latency statistics ----

export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((x, y) => x - y), pos = (s.length - 1) * q, lo = Math.floor(pos), hi = Math.ceil(pos);
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
}

export const median = (values: readonly number[]): number => quantile(values, 0.5);

export interface Spread {
  n: number;
  median: number;
  min: number;
  max: number;
  q1: number;
  q3: number;
}

export function spread(values: readonly number[]): Spread {
  return { n: values.length, median: median(values), min: Math.min(...values), max: Math.max(...values), q1: quantile(values, 0.25), q3: quantile(values, 0.75) };
}

/** Points not beaten by another that is both at least as fast and at least as similar; fastest first. */
export function paretoFrontier<T extends { latencyMs: number; ssim: number }>(points: readonly T[]): T[] {
  const sorted = [...points].sort((a, b) => a.latencyMs - b.latencyMs || b.ssim - a.ssim);
  const out: T[] = [];
  let best = -Infinity;
  for (const p of sorted) {
    if (p.ssim > best) {
      out.push(p);
      best = p.ssim;
    }
  }
  return out;
}

/** The fastest point whose SSIM reaches the threshold, if any. */
export function fastestAbove<T extends { latencyMs: number; ssim: number }>(points: readonly T[], minSsim: number): T | undefined {
  return points.filter((p) => p.ssim >= minSsim).sort((a, b) => a.latencyMs - b.latencyMs)[0];
}
