/**
 * PSNR in dB of two flat arrays with values in [0, 1] (Infinity when identical). SSIM, heatmaps and
 * the studio's metrics live in app/metrics.ts, shared with the renderer.
 */
export function psnr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`psnr: images differ in size (${a.length} vs ${b.length} values)`);
  let se = 0;
  for (let i = 0; i < a.length; i++) se += (a[i]! - b[i]!) ** 2;
  const mse = se / a.length;
  return mse === 0 ? Infinity : 10 * Math.log10(1 / mse);
}

