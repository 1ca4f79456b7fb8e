/** An RGB image, float channels in [0, 1], row-major HWC: what the pipeline reads and writes. */
export interface RgbImage {
  width: number;
  height: number;
  data: Float32Array;
}

export function toUint8(img: RgbImage): Uint8Array {
  const out = new Uint8Array(img.data.length);
  // diffusers' numpy_to_pil: (x * 255).round()
  for (let i = 0; i < out.length; i++) out[i] = Math.round(Math.min(1, Math.max(0, img.data[i]!)) * 255);
  return out;
}

export function fromUint8(data: Uint8Array, width: number, height: number, channels: number): RgbImage {
  const out = new Float32Array(width * height * 3);
  for (let p = 0; p < width * height; p++) {
    for (let c = 0; c < 3; c++) out[p * 3 + c] = data[p * channels + (channels >= 3 ? c : 0)]! / 255;
  }
  return { width, height, data: out };
}
