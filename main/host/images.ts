import { absDiff, downscale, heatmap, psnr, rgbaToRgb, ssim, type Pixels } from '../../app/metrics';
import type { ImageMetrics } from '../../app/studio';
import { encodePng } from '../../engine/image/png';
import { toRgb8, type RgbImage } from '../../engine/image/rgb';

/** An engine image quantised to 8 bits exactly as its PNG stores it, so metrics match the files. */
export function quantise(img: RgbImage): Pixels {
  return { ...toRgb8(img), channels: 3, max: 255 };
}

export function png8(width: number, height: number, rgb: Uint8Array, text: Record<string, string> = {}): Uint8Array {
  return encodePng({ width, height, data: rgb }, text);
}

export function pixelsPng(p: Pixels, text: Record<string, string> = {}): Uint8Array {
  const rgb = p.channels === 3 ? Uint8Array.from(p.data, (v) => Math.round((v / p.max) * 255)) : rgbaToRgb(Array.from(p.data, (v) => Math.round((v / p.max) * 255)));
  return png8(p.width, p.height, rgb, text);
}

/** PSNR, SSIM and the largest per-pixel difference of two 8-bit images. */
export function compareImages(a: Pixels, b: Pixels): ImageMetrics & { diff: Float32Array; ssimMap: Float32Array } {
  const diff = absDiff(a, b);
  const s = ssim(a, b);
  return { psnr: psnr(a, b), ssim: s.mean, maxDiff: diff.reduce((m, v) => Math.max(m, v), 0), diff, ssimMap: s.map };
}

/** The difference heatmap as stored with an entry: inferno, normalised to the largest difference. */
export function diffPng(width: number, height: number, diff: Float32Array, maxDiff: number): Uint8Array {
  return png8(width, height, rgbaToRgb(heatmap(diff, maxDiff > 0 ? 1 / maxDiff : 1, 'inferno')));
}

/** 1 − SSIM as a heatmap PNG (bright = different). */
export function ssimPng(width: number, height: number, map: Float32Array): Uint8Array {
  return png8(width, height, rgbaToRgb(heatmap(map.map((v) => 1 - v), 1, 'inferno')));
}

/** A and B side by side, each fitted into `side` pixels: the history list's thumbnail. */
export function thumbnail(a: Pixels, b: Pixels | undefined, side = 72): Uint8Array {
  const ta = downscale(a, side), tb = b ? downscale(b, side) : undefined;
  const gap = tb ? 2 : 0, w = ta.width + gap + (tb?.width ?? 0), h = Math.max(ta.height, tb?.height ?? 0);
  const out = new Uint8Array(w * h * 3).fill(24);
  const blit = (t: { width: number; height: number; data: Uint8Array }, x0: number): void => {
    for (let y = 0; y < t.height; y++) out.set(t.data.subarray(y * t.width * 3, (y + 1) * t.width * 3), (y * w + x0) * 3);
  };
  blit(ta, 0);
  if (tb) blit(tb, ta.width + gap);
  return png8(w, h, out);
}
