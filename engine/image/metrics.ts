/** PSNR in dB of two images with values in [0, 1] (Infinity when identical). */
export function psnr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`psnr: images differ in size (${a.length} vs ${b.length} values)`);
  let se = 0;
  for (let i = 0; i < a.length; i++) se += (a[i]! - b[i]!) ** 2;
  const mse = se / a.length;
  return mse === 0 ? Infinity : 10 * Math.log10(1 / mse);
}

/**
 * Mean SSIM (Wang et al. 2004) over RGB channels: 11x11 Gaussian window, σ = 1.5, values in [0, 1],
 * borders handled by computing only where the window fits (as skimage does with its default crop).
 */
export function ssim(a: ArrayLike<number>, b: ArrayLike<number>, width: number, height: number): number {
  if (a.length !== b.length || a.length !== width * height * 3) throw new Error('ssim: images must be the same width x height x 3');
  const w = gaussian(11, 1.5);
  const C1 = 0.01 ** 2, C2 = 0.03 ** 2;
  let total = 0, count = 0;
  const plane = (src: ArrayLike<number>, c: number): Float64Array => Float64Array.from({ length: width * height }, (_, i) => src[i * 3 + c]!);
  for (let c = 0; c < 3; c++) {
    const x = plane(a, c), y = plane(b, c);
    const xy = x.map((v, i) => v * y[i]!), xx = x.map((v) => v * v), yy = y.map((v) => v * v);
    const [mx, my, sxy, sxx, syy] = [x, y, xy, xx, yy].map((p) => blur(p, width, height, w));
    const r = 5;
    for (let j = r; j < height - r; j++) {
      for (let i = r; i < width - r; i++) {
        const k = j * width + i;
        const ux = mx![k]!, uy = my![k]!;
        const vx = sxx![k]! - ux * ux, vy = syy![k]! - uy * uy, cxy = sxy![k]! - ux * uy;
        total += ((2 * ux * uy + C1) * (2 * cxy + C2)) / ((ux * ux + uy * uy + C1) * (vx + vy + C2));
        count++;
      }
    }
  }
  if (count === 0) throw new Error('ssim: images smaller than the 11x11 window');
  return total / count;
}

function gaussian(size: number, sigma: number): Float64Array {
  const h = (size - 1) / 2;
  const w = Float64Array.from({ length: size }, (_, i) => Math.exp(-((i - h) ** 2) / (2 * sigma * sigma)));
  const s = w.reduce((x, y) => x + y, 0);
  return w.map((v) => v / s);
}

/** Separable blur; edge pixels clamp (only the interior is read back). */
function blur(src: Float64Array, width: number, height: number, w: Float64Array): Float64Array {
  const h = (w.length - 1) / 2;
  const tmp = new Float64Array(src.length), out = new Float64Array(src.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let s = 0;
      for (let k = -h; k <= h; k++) s += w[k + h]! * src[y * width + Math.min(width - 1, Math.max(0, x + k))]!;
      tmp[y * width + x] = s;
    }
  }
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let s = 0;
      for (let k = -h; k <= h; k++) s += w[k + h]! * tmp[Math.min(height - 1, Math.max(0, y + k)) * width + x]!;
      out[y * width + x] = s;
    }
  }
  return out;
}
