import type { Pixels } from '../../app/metrics';

/** An RGB image, float channels in [0, 1], row-major HWC: what the pipeline reads and writes. */
export interface RgbImage {
  width: number;
  height: number;
  data: Float32Array;
}

/** 8-bit RGB pixels, row-major HWC: what a PNG holds. */
export interface Rgb8 {
  width: number;
  height: number;
  data: Uint8Array;
}

/** Quantised once, as diffusers' numpy_to_pil does: (x * 255).round(), clamped. */
export function toRgb8(img: RgbImage): Rgb8 {
  const out = new Uint8Array(img.data.length);
  for (let i = 0; i < out.length; i++) out[i] = Math.round(Math.min(1, Math.max(0, img.data[i]!)) * 255);
  return { width: img.width, height: img.height, data: out };
}

export function fromUint8(data: Uint8Array, width: number, height: number, channels: number): RgbImage {
  const out = new Float32Array(width * height * 3);
  for (let p = 0; p < width * height; p++) {
    for (let c = 0; c < 3; c++) out[p * 3 + c] = data[p * channels + (channels >= 3 ? c : 0)]! / 255;
  }
  return { width, height, data: out };
}

/** An engine image as app/metrics' Pixels (floats, max 1), for the studio's PSNR and SSIM. */
export const asPixels = (img: RgbImage): Pixels => ({ width: img.width, height: img.height, channels: 3, data: img.data, max: 1 });
