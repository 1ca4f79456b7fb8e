import type { RgbImage } from './rgb';

/**
 * Bilinear resize of interleaved float pixels (half-pixel centres, as PIL and torch align them).
 * Hand-written: no image resizer is installed, and masks and the try-on garment need no more than this.
 */
export function resizeBilinear(src: Float32Array, w: number, h: number, channels: number, width: number, height: number): Float32Array {
  const out = new Float32Array(width * height * channels);
  const sx = w / width, sy = h / height;
  for (let y = 0; y < height; y++) {
    const fy = Math.min(h - 1, Math.max(0, (y + 0.5) * sy - 0.5));
    const y0 = Math.floor(fy), y1 = Math.min(h - 1, y0 + 1), wy = fy - y0;
    for (let x = 0; x < width; x++) {
      const fx = Math.min(w - 1, Math.max(0, (x + 0.5) * sx - 0.5));
      const x0 = Math.floor(fx), x1 = Math.min(w - 1, x0 + 1), wx = fx - x0;
      for (let c = 0; c < channels; c++) {
        const at = (yy: number, xx: number): number => src[(yy * w + xx) * channels + c]!;
        out[(y * width + x) * channels + c] = (1 - wy) * ((1 - wx) * at(y0, x0) + wx * at(y0, x1)) + wy * ((1 - wx) * at(y1, x0) + wx * at(y1, x1));
      }
    }
  }
  return out;
}

/** An RGB image at another size (the same one when it already fits): control maps, init images. */
export function resizeImage(img: RgbImage, width: number, height: number): RgbImage {
  if (img.width === width && img.height === height) return img;
  return { width, height, data: resizeBilinear(img.data, img.width, img.height, 3, width, height) };
}
