import { describe, expect, it } from 'vitest';
import {
  absDiff, colormap, downscale, fastestAbove, heatmap, latentsToRgb, median, paretoFrontier, psnr, quantile, spread, ssim, type Pixels,
} from '../../app/metrics';

/** A grey image (R = G = B, so luma is the value itself) from a function of (x, y). */
function grey(w: number, h: number, f: (x: number, y: number) => number, channels: 3 | 4 = 3): Pixels {
  const data = new Float32Array(w * h * channels);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let c = 0; c < channels; c++) data[(y * w + x) * channels + c] = c === 3 ? 1 : f(x, y);
  return { width: w, height: h, channels, data, max: 1 };
}

// The pair a numpy re-implementation of Wang et al. (Gaussian 11/1.5, edge padding) was run on.
const A = grey(20, 16, (x, y) => ((x * 7 + y * 13) % 17) / 16);
const B = grey(20, 16, (x, y) => Math.min(1, Math.max(0, ((x * 7 + y * 13) % 17) / 16 + 0.1 * Math.sin(x + y))));

describe('PSNR', () => {
  it('is 20 dB for a uniform 0.1 error and null for identical images', () => {
    expect(psnr(grey(8, 8, () => 0.5), grey(8, 8, () => 0.6))).toBeCloseTo(20, 4);
    expect(psnr(A, A)).toBeNull();
  });
  it('matches numpy on a known pair, and 8-bit RGBA reads like float RGB', () => {
    expect(psnr(A, B)).toBeCloseTo(23.4305013, 4);
    const p = grey(6, 4, (x) => x % 2), q = grey(6, 4, (x) => (x % 3 === 0 ? 1 : 0));
    const to8 = (img: Pixels): Pixels => ({ ...img, channels: 4, max: 255, data: Uint8ClampedArray.from(grey(6, 4, (x, y) => img.data[(y * 6 + x) * 3]!, 4).data, (v) => v * 255) });
    expect(psnr(to8(p), to8(q))).toBeCloseTo(psnr(p, q)!, 10);
  });
  it('refuses images of different sizes', () => {
    expect(() => psnr(grey(4, 4, () => 0), grey(4, 5, () => 0))).toThrow(/differ in size: 4x4 vs 4x5/);
  });
});

describe('SSIM', () => {
  it('is 1 for identical images, everywhere', () => {
    const s = ssim(A, A);
    expect(s.mean).toBeCloseTo(1, 6);
    expect(Math.min(...s.map)).toBeCloseTo(1, 5);
  });
  it('matches an independent numpy implementation on a known pair (mean and map)', () => {
    const s = ssim(A, B);
    expect(s.mean).toBeCloseTo(0.9762526, 5);
    expect(s.map[0]).toBeCloseTo(0.9860139, 5);
    expect(s.map[7 * 20 + 9]).toBeCloseTo(0.9756528, 5);
  });
  it('of two flat images is the luminance term (2ab + C1) / (a² + b² + C1)', () => {
    const C1 = 0.0001;
    expect(ssim(grey(16, 16, () => 0.5), grey(16, 16, () => 0.25)).mean).toBeCloseTo((2 * 0.5 * 0.25 + C1) / (0.25 + 0.0625 + C1), 4);
  });
  it('falls as noise grows, and is symmetric', () => {
    const noisy = (amp: number) => grey(32, 32, (x, y) => Math.min(1, Math.max(0, 0.5 + amp * Math.sin(x * 12.9898 + y * 78.233) * 0.5)));
    const base = noisy(0);
    const s1 = ssim(base, noisy(0.1)).mean, s2 = ssim(base, noisy(0.4)).mean;
    expect(s1).toBeGreaterThan(s2);
    expect(ssim(A, B).mean).toBeCloseTo(ssim(B, A).mean, 10);
  });
});

describe('difference heatmap and colormaps', () => {
  it('colormap ends match matplotlib (and turbo its published polynomial) within a few levels', () => {
    const near = (got: number[], want: number[]) => got.forEach((v, i) => expect(Math.abs(v - want[i]!)).toBeLessThanOrEqual(6));
    near(colormap('viridis', 0), [68, 1, 84]);
    near(colormap('viridis', 1), [253, 231, 37]);
    near(colormap('inferno', 0), [0, 0, 4]);
    near(colormap('inferno', 1), [252, 255, 164]);
    near(colormap('turbo', 0), [35, 23, 27]);
    near(colormap('turbo', 1), [144, 13, 0]);
    const [r, g, b] = colormap('turbo', 0.5);
    expect(g).toBeGreaterThan(Math.max(r, b));
    expect(colormap('gray', 0.5)).toEqual([128, 128, 128]);
  });
  it('gain scales the difference before the colormap; zero difference is the colormap floor', () => {
    const d = absDiff(grey(2, 1, () => 0.5), grey(2, 1, (x) => (x === 0 ? 0.5 : 0.75)));
    expect(Array.from(d)).toEqual([0, 0.25]);
    const rgba = heatmap(d, 4, 'gray');
    expect(Array.from(rgba)).toEqual([0, 0, 0, 255, 255, 255, 255, 255]);
    expect(Array.from(heatmap(d, 1, 'gray')).slice(4, 7)).toEqual([64, 64, 64]);
  });
});

describe('statistics and the Pareto frontier', () => {
  it('median, quantiles and spread', () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(quantile([1, 2, 3, 4, 5], 0.25)).toBe(2);
    expect(spread([3, 1, 2])).toMatchObject({ n: 3, median: 2, min: 1, max: 3 });
  });
  it('keeps only points no other point beats on both latency and SSIM', () => {
    const pts = [
      { id: 'slow-exact', latencyMs: 100, ssim: 1 }, { id: 'fast-bad', latencyMs: 20, ssim: 0.7 }, { id: 'mid', latencyMs: 50, ssim: 0.95 },
      { id: 'dominated', latencyMs: 60, ssim: 0.9 }, { id: 'mid2', latencyMs: 70, ssim: 0.97 },
    ];
    expect(paretoFrontier(pts).map((p) => p.id)).toEqual(['fast-bad', 'mid', 'mid2', 'slow-exact']);
    expect(fastestAbove(pts, 0.93)?.id).toBe('mid');
    expect(fastestAbove(pts, 1.01)).toBeUndefined();
  });
});

describe('previews and thumbnails', () => {
  it('latent previews come out at latent resolution, height first (NCHW)', () => {
    const dims = [1, 4, 2, 3];
    const rgb = latentsToRgb(new Float32Array(24), dims);
    expect([rgb.width, rgb.height, rgb.data.length]).toEqual([3, 2, 18]);
    expect(rgb.data[0]).toBe(128); // zero latents are mid grey
  });
  it('downscale fits the longer side and averages boxes', () => {
    const t = downscale(grey(8, 4, (x) => (x < 4 ? 0 : 1)), 4);
    expect([t.width, t.height]).toEqual([4, 2]);
    expect(Array.from(t.data.subarray(0, 3))).toEqual([0, 0, 0]);
    expect(t.data[3 * 3]).toBe(255);
  });
});
