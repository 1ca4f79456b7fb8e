import { readFileSync, writeFileSync, renameSync } from 'node:fs';
import { crc32, deflateSync, inflateSync } from 'node:zlib';
import { decode, encode } from 'fast-png';
import { fromUint8, toUint8, type RgbImage } from './rgb';

/**
 * PNG out with a text chunk (A1111's `parameters`), PNG in as RGB floats; fast-png does the codec.
 * Its tEXt is Latin-1 only, so text outside Latin-1 goes into an iTXt chunk (UTF-8), as PIL does.
 */
export function encodePng(img: RgbImage, text: Record<string, string> = {}): Uint8Array {
  const latin1 = Object.fromEntries(Object.entries(text).filter(([, v]) => isLatin1(v)));
  const png = encode({ width: img.width, height: img.height, data: toUint8(img), channels: 3, depth: 8, text: latin1 });
  const utf8 = Object.entries(text).filter(([, v]) => !isLatin1(v));
  return utf8.length ? insertBeforeEnd(png, utf8.map(([k, v]) => iTXt(k, v))) : png;
}

export function writePng(path: string, img: RgbImage, text: Record<string, string> = {}): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, encodePng(img, text));
  renameSync(tmp, path); // atomic: a reader never sees half a file
}

export function readPng(path: string): RgbImage & { text: Record<string, string> } {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new Error(`${path}: cannot read the image (${(e as Error).message})`);
  }
  let png: ReturnType<typeof decode>;
  try {
    png = decode(bytes);
  } catch (e) {
    throw new Error(`${path}: not a readable PNG (${(e as Error).message})`);
  }
  const text = { ...png.text, ...readITXt(bytes) };
  if (png.palette) return { ...fromUint8(expandPalette(png), png.width, png.height, 3), text };
  const data = png.depth === 16 ? Uint8Array.from(png.data as Uint16Array, (v) => v >> 8) : (png.data as Uint8Array);
  return { ...fromUint8(data, png.width, png.height, png.channels), text };
}

/** Indexed colour → RGB (indices may be packed 1, 2 or 4 bits per pixel, rows byte-aligned). */
function expandPalette(png: ReturnType<typeof decode>): Uint8Array {
  const { width, height, depth } = png;
  const palette = png.palette!;
  const src = png.data as Uint8Array;
  const rowBytes = Math.ceil((width * depth) / 8);
  const out = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const bit = x * depth;
      const byte = src[y * rowBytes + (bit >> 3)]!;
      const idx = depth === 8 ? byte : (byte >> (8 - depth - (bit & 7))) & ((1 << depth) - 1);
      const c = palette[idx] ?? [0, 0, 0];
      out.set([c[0]!, c[1]!, c[2]!], (y * width + x) * 3);
    }
  }
  return out;
}

function isLatin1(s: string): boolean {
  return /^[\x00-\xff]*$/.test(s);
}

function chunk(type: string, body: Uint8Array): Uint8Array {
  const out = Buffer.alloc(12 + body.length);
  out.writeUInt32BE(body.length, 0);
  out.write(type, 4, 'latin1');
  out.set(body, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + body.length)), 8 + body.length);
  return out;
}

function iTXt(keyword: string, text: string): Uint8Array {
  // keyword \0, compression flag 1, method 0, empty language \0, empty translated keyword \0, zlib text
  return chunk('iTXt', Buffer.concat([Buffer.from(keyword, 'latin1'), Buffer.from([0, 1, 0, 0, 0]), deflateSync(Buffer.from(text, 'utf8'))]));
}

function insertBeforeEnd(png: Uint8Array, chunks: Uint8Array[]): Uint8Array {
  const iend = png.length - 12;
  return Buffer.concat([png.subarray(0, iend), ...chunks, png.subarray(iend)]);
}

function readITXt(bytes: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  for (let o = 8; o + 12 <= bytes.length; ) {
    const len = bytes.readUInt32BE(o);
    const type = bytes.toString('latin1', o + 4, o + 8);
    if (type === 'iTXt') {
      const body = bytes.subarray(o + 8, o + 8 + len);
      const k = body.indexOf(0);
      const compressed = body[k + 1] === 1;
      let p = k + 3;
      p = body.indexOf(0, p) + 1; // language
      p = body.indexOf(0, p) + 1; // translated keyword
      const raw = body.subarray(p);
      out[body.toString('latin1', 0, k)] = (compressed ? inflateSync(raw) : raw).toString('utf8');
    }
    o += 12 + len;
  }
  return out;
}
