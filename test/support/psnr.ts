import { psnr as studioPsnr } from '../../app/metrics';

/**
 * The studio's PSNR (app/metrics.ts) over two engine images' RGB float data (one row of pixels),
 * Infinity when identical, so tests compare it against thresholds.
 */
export function psnr(a: Float32Array, b: Float32Array): number {
  const px = (data: Float32Array) => ({ width: data.length / 3, height: 1, channels: 3 as const, data, max: 1 });
  if (a.length % 3 || b.length % 3) throw new Error(`psnr: ${a.length} and ${b.length} values are not RGB images`);
  return studioPsnr(px(a), px(b)) ?? Infinity;
}
