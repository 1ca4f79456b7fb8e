/**
 * Canny edges of an 8-bit RGB(A) image: white edges on black, as ControlNet's canny maps are.
 * Hand-written, not a library: the emoji ControlNet was trained on edges from
 * training/emoji_train/canny.py, and a control map must be made the same way step for step (float64,
 * the same order of operations, no atan2); libraries differ in blur, gradient norm and rounding.
 * Pure (no DOM): the engine (CLI, runs) and the studio's live preview share it.
 *   1. grey = 0.299 R + 0.587 G + 0.114 B   2. 5x5 Gaussian, sigma 1.4, rows then columns, edges replicated
 *   3. Sobel, magnitude sqrt(gx^2 + gy^2)    4. non-maximum suppression in 4 directions (outside = 0)
 *   5. strong > high, weak > low (as OpenCV); weak pixels 8-connected to a strong one are kept.
 */
const TAN22 = Math.SQRT2 - 1;
const TAN67 = Math.SQRT2 + 1;

function gaussian(sigma = 1.4, radius = 2): number[] {
  const w: number[] = [];
  for (let i = -radius; i <= radius; i++) w.push(Math.exp(-(i * i) / (2 * sigma * sigma)));
  // summed left to right, as Python's sum()
  let s = 0;
  for (const x of w) s += x;
  return w.map((x) => x / s);
}

/** Edge map (1 = edge) of `data` (channels 3 or 4 per pixel, row-major); thresholds on Sobel magnitudes of 0..255 greys. */
export function canny(data: ArrayLike<number>, width: number, height: number, channels: 3 | 4, low: number, high: number): Uint8Array {
  if (data.length !== width * height * channels) throw new Error(`canny: ${data.length} values for ${width}x${height}x${channels}`);
  if (!(low >= 0 && high >= low)) throw new Error(`canny: thresholds low ${low}, high ${high}: need 0 <= low <= high`);
  const w = width, h = height, n = w * h;
  const g = new Float64Array(n);
  for (let p = 0; p < n; p++) g[p] = 0.299 * data[p * channels]! + 0.587 * data[p * channels + 1]! + 0.114 * data[p * channels + 2]!;
  const k = gaussian();
  const cx = (x: number) => (x < 0 ? 0 : x >= w ? w - 1 : x), cy = (y: number) => (y < 0 ? 0 : y >= h ? h - 1 : y);
  // rows first, over the replicated-edge padded image: the padding rows are blurred too
  const rows = new Float64Array((h + 4) * w);
  for (let y = -2; y < h + 2; y++) {
    for (let x = 0; x < w; x++) {
      let s = 0;
      for (let i = 0; i < 5; i++) s += k[i]! * g[cy(y) * w + cx(x + i - 2)]!;
      rows[(y + 2) * w + x] = s;
    }
  }
  const b = new Float64Array(n);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let s = 0;
      for (let i = 0; i < 5; i++) s += k[i]! * rows[(y + i) * w + x]!;
      b[y * w + x] = s;
    }
  }
  const at = (y: number, x: number) => b[cy(y) * w + cx(x)]!;
  const gx = new Float64Array(n), gy = new Float64Array(n), mag = new Float64Array(n);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const p = y * w + x;
      gx[p] = (at(y - 1, x + 1) + 2 * at(y, x + 1) + at(y + 1, x + 1)) - (at(y - 1, x - 1) + 2 * at(y, x - 1) + at(y + 1, x - 1));
      gy[p] = (at(y + 1, x - 1) + 2 * at(y + 1, x) + at(y + 1, x + 1)) - (at(y - 1, x - 1) + 2 * at(y - 1, x) + at(y - 1, x + 1));
      mag[p] = Math.sqrt(gx[p]! * gx[p]! + gy[p]! * gy[p]!);
    }
  }
  const m = (y: number, x: number) => (y < 0 || y >= h || x < 0 || x >= w ? 0 : mag[y * w + x]!);
  const state = new Uint8Array(n); // 0 none, 1 weak, 2 strong (kept)
  const stack: number[] = [];
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const p = y * w + x, v = mag[p]!, ax = Math.abs(gx[p]!), ay = Math.abs(gy[p]!);
      let keep: boolean;
      if (ay <= ax * TAN22) keep = v >= m(y, x - 1) && v >= m(y, x + 1);
      else if (ay > ax * TAN67) keep = v >= m(y - 1, x) && v >= m(y + 1, x);
      else if (gx[p]! * gy[p]! > 0) keep = v >= m(y - 1, x - 1) && v >= m(y + 1, x + 1);
      else keep = v >= m(y - 1, x + 1) && v >= m(y + 1, x - 1);
      if (!keep) continue;
      if (v > high) {
        state[p] = 2;
        stack.push(p);
      } else if (v > low) state[p] = 1;
    }
  }
  while (stack.length) {
    const p = stack.pop()!, y = Math.floor(p / w), x = p % w;
    for (let dy = -1; dy <= 1; dy++) {
      for (let dx = -1; dx <= 1; dx++) {
        const yy = y + dy, xx = x + dx;
        if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
        const q = yy * w + xx;
        if (state[q] === 1) {
          state[q] = 2;
          stack.push(q);
        }
      }
    }
  }
  const out = new Uint8Array(n);
  for (let p = 0; p < n; p++) out[p] = state[p] === 2 ? 1 : 0;
  return out;
}
