import { resizeBilinear } from './resize';
import { decodeRaw, expandPalette, readPngBytes, type DecodedPng } from './png';

/** An inpainting mask: one channel in [0, 1], row-major; white (1) = repaint, black (0) = keep. */
export interface MaskImage {
  width: number;
  height: number;
  data: Float32Array;
}

export function readMask(path: string): MaskImage {
  return decodeMask(readPngBytes(path), path);
}

/**
 * A mask PNG → one channel, as diffusers' mask processor reads it (PIL's "L": luminance of RGB).
 * Accepted: grey at 1, 2, 4, 8 or 16 bits (16-bit keeps its precision), RGB, palette, and grey+alpha
 * or RGBA when fully opaque. A mask with transparency is refused rather than guessed: tools disagree
 * on whether transparent means "repaint" (OpenAI's edits) or "keep".
 */
export function decodeMask(bytes: Uint8Array, name: string): MaskImage {
  const { png } = decodeRaw(bytes, name);
  const { width, height } = png;
  const n = width * height;
  const data = new Float32Array(n);
  if (png.palette) {
    if (png.palette.some((c) => c.length > 3 && c[3]! < 255)) throw transparent(name, 'its palette has transparent entries');
    const rgb = expandPalette(png);
    for (let p = 0; p < n; p++) data[p] = luma(rgb[p * 3]!, rgb[p * 3 + 1]!, rgb[p * 3 + 2]!) / 255;
    return { width, height, data };
  }
  const ch = png.channels, max = 2 ** png.depth - 1;
  const src = png.depth < 8 ? unpackBits(png) : png.data;
  if (ch === 2 || ch === 4) {
    for (let p = 0; p < n; p++) if (src[p * ch + ch - 1]! !== max) throw transparent(name, `pixel (${p % width}, ${Math.floor(p / width)}) has alpha ${src[p * ch + ch - 1]} of ${max}`);
  }
  for (let p = 0; p < n; p++) {
    // PIL's L works on 8 bits; 16-bit RGB is reduced the same way, grey keeps its 16 bits (binarised at 0.5 anyway)
    data[p] = ch >= 3 ? luma(src[p * ch]! * 255 / max, src[p * ch + 1]! * 255 / max, src[p * ch + 2]! * 255 / max) / 255 : src[p * ch]! / max;
  }
  return { width, height, data };
}

/** PIL's RGB → L: (R·19595 + G·38470 + B·7471 + 0x8000) >> 16 (ITU-R 601 weights in 16-bit fixed point). */
const luma = (r: number, g: number, b: number): number => Math.floor((Math.round(r) * 19595 + Math.round(g) * 38470 + Math.round(b) * 7471 + 0x8000) / 65536);

const transparent = (name: string, why: string): Error =>
  new Error(`${name}: the mask has transparency (${why}); a mask must be opaque grey or RGB, white = repaint, black = keep (flatten it onto black)`);

/** Grey at 1, 2 or 4 bits per pixel (rows byte-aligned) → one value per pixel (fast-png leaves them packed). */
function unpackBits(png: DecodedPng): Uint8Array {
  const { width, height, depth } = png;
  const src = png.data as Uint8Array, rowBytes = Math.ceil((width * depth) / 8), out = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const bit = x * depth;
      out[y * width + x] = (src[y * rowBytes + (bit >> 3)]! >> (8 - depth - (bit & 7))) & ((1 << depth) - 1);
    }
  }
  return out;
}

/** The mask at another size (bilinear, then binarised by the pipeline as diffusers does). */
export const resizeMask = (m: MaskImage, width: number, height: number): MaskImage => ({ width, height, data: resizeBilinear(m.data, m.width, m.height, 1, width, height) });
