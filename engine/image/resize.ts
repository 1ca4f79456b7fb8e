import type { RgbImage } from './rgb';

/**
 * Bilinear resize with half-pixel centres (as torch's interpolate(mode="bilinear", align_corners=False)
 * without antialiasing): enough for control maps, which the caller announces as resized. Hand-written:
 * a few lines on the engine's float images, where an image library would round-trip through 8 bits.
 */
export function resizeBilinear(img: RgbImage, width: number, height: number): RgbImage {
  if (img.width === width && img.height === height) return img;
  const out = new Float32Array(width * height * 3);
  const sx = img.width / width, sy = img.height / height;
  for (let y = 0; y < height; y++) {
    const fy = Math.min(img.height - 1, Math.max(0, (y + 0.5) * sy - 0.5));
    const y0 = Math.floor(fy), y1 = Math.min(img.height - 1, y0 + 1), wy = fy - y0;
    for (let x = 0; x < width; x++) {
      const fx = Math.min(img.width - 1, Math.max(0, (x + 0.5) * sx - 0.5));
      const x0 = Math.floor(fx), x1 = Math.min(img.width - 1, x0 + 1), wx = fx - x0;
      for (let c = 0; c < 3; c++) {
        const v = (yy: number, xx: number) => img.data[(yy * img.width + xx) * 3 + c]!;
        const top = v(y0, x0) * (1 - wx) + v(y0, x1) * wx, bottom = v(y1, x0) * (1 - wx) + v(y1, x1) * wx;
        out[(y * width + x) * 3 + c] = top * (1 - wy) + bottom * wy;
      }
    }
  }
  return { width, height, data: out };
}
