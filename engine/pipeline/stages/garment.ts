import { resizeBilinear } from '../../image/resize';
import type { RgbImage } from '../../image/rgb';

/**
 * The try-on start: the garment resized to the mask's bounding box and pasted over the person where
 * the (binarised) mask is 1; outside the mask the person stays as is. An all-black mask is an error here
 * (there is nowhere to put the garment).
 */
export function placeGarment(person: RgbImage, mask: Float32Array, garment: RgbImage): RgbImage {
  const { width: w, height: h } = person;
  let x0 = w, y0 = h, x1 = -1, y1 = -1;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (mask[y * w + x]! < 0.5) continue;
      x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
    }
  }
  if (x1 < 0) throw new Error('garment: the mask is all black, so there is no region to place the garment in (white = the garment region)');
  const bw = x1 - x0 + 1, bh = y1 - y0 + 1;
  const g = resizeBilinear(garment.data, garment.width, garment.height, 3, bw, bh);
  const data = person.data.slice();
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      const p = y * w + x;
      if (mask[p]! >= 0.5) data.set(g.subarray(((y - y0) * bw + (x - x0)) * 3, ((y - y0) * bw + (x - x0)) * 3 + 3), p * 3);
    }
  }
  return { width: w, height: h, data };
}
