/**
 * "Same image or not", in plain words: the reading of a pair's metrics against thresholds the user
 * sets, and where the pair differs most. One place for the Compare tab and the HTML report.
 */
import { z } from 'zod';

/** SSIM at or above `identical` reads "visually identical"; at or above `small`, "small differences". */
export const VerdictThresholds = z
  .object({
    identical: z.number().min(0, 'identical: SSIM must be ≥ 0').max(1, 'identical: SSIM must be ≤ 1'),
    small: z.number().min(0, 'small differences: SSIM must be ≥ 0').max(1, 'small differences: SSIM must be ≤ 1'),
  })
  .refine((t) => t.small <= t.identical, { message: '"small differences" must not be above "visually identical"', path: ['small'] });
export type VerdictThresholds = z.infer<typeof VerdictThresholds>;

export const DEFAULT_THRESHOLDS: VerdictThresholds = { identical: 0.98, small: 0.9 };

export type VerdictLevel = 'identical' | 'visually-identical' | 'small-differences' | 'different';

export const VERDICT_TEXT: Record<VerdictLevel, string> = {
  identical: 'pixel-identical',
  'visually-identical': 'visually identical',
  'small-differences': 'small differences',
  different: 'different',
};

/** PSNR null means no pixel differs. */
export function readVerdict(m: { psnr: number | null; ssim: number }, t: VerdictThresholds = DEFAULT_THRESHOLDS): VerdictLevel {
  if (m.psnr === null) return 'identical';
  return m.ssim >= t.identical ? 'visually-identical' : m.ssim >= t.small ? 'small-differences' : 'different';
}

/** A rectangle in image pixels. */
export interface Region {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** The square tile (a grid of about `grid`×`grid`) with the largest mean of `values` (row-major, width×height). */
export function worstTile(values: Float32Array, width: number, height: number, grid = 8): Region & { mean: number } {
  const size = Math.max(1, Math.ceil(Math.max(width, height) / grid));
  let best = { x: 0, y: 0, w: Math.min(size, width), h: Math.min(size, height), mean: -1 };
  for (let ty = 0; ty < height; ty += size) {
    for (let tx = 0; tx < width; tx += size) {
      const w = Math.min(size, width - tx), h = Math.min(size, height - ty);
      let s = 0;
      for (let y = ty; y < ty + h; y++) for (let x = tx; x < tx + w; x++) s += values[y * width + x]!;
      const mean = s / (w * h);
      if (mean > best.mean) best = { x: tx, y: ty, w, h, mean };
    }
  }
  return best;
}

/** Where a region lies, in words ("top left", "centre", "bottom right"). */
export function whereIs(r: Region, width: number, height: number): string {
  const third = (c: number, n: number): number => Math.min(2, Math.floor((3 * c) / n));
  const row = ['top', 'middle', 'bottom'][third(r.y + r.h / 2, height)]!;
  const col = ['left', 'centre', 'right'][third(r.x + r.w / 2, width)]!;
  return row === 'middle' ? (col === 'centre' ? 'centre' : `middle ${col}`) : col === 'centre' ? row : `${row} ${col}`;
}
