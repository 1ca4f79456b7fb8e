import { writeFileSync, renameSync } from 'node:fs';
import { MiB, ReadError, readFileBounded } from '../io/read-file';
import { crc32, deflateSync, inflateSync } from 'node:zlib';
import { decode, encode } from 'fast-png';
import { fromUint8, type Rgb8, type RgbImage } from './rgb';

/**
 * PNG out from 8-bit RGB with text chunks (A1111's `parameters`), PNG in as RGB floats; fast-png
 * does the codec. Its tEXt is Latin-1 only, so text outside Latin-1 goes into an iTXt chunk
 * (UTF-8), as PIL does. Images are checked against the size limits from their IHDR, before any
 * pixel data is inflated (a small file can declare a huge image).
 */
export const MAX_SIDE = 4096;
export const MAX_PIXELS = 4096 * 4096;
/** Text chunks are parameters (prompts are at most 4000 characters), never megabytes. */
const MAX_TEXT = 1024 * 1024;
const SIGNATURE = Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]);

export function encodePng(img: Rgb8, text: Record<string, string> = {}): Uint8Array {
  if (img.data.length !== img.width * img.height * 3) throw new Error(`encodePng: ${img.width}x${img.height} RGB needs ${img.width * img.height * 3} bytes, got ${img.data.length}`);
  const latin1 = Object.fromEntries(Object.entries(text).filter(([, v]) => isLatin1(v)));
  const png = encode({ width: img.width, height: img.height, data: img.data, channels: 3, depth: 8, text: latin1 });
  const utf8 = Object.entries(text).filter(([, v]) => !isLatin1(v));
  return utf8.length ? insertBeforeEnd(png, utf8.map(([k, v]) => iTXt(k, v))) : png;
}

export function writePng(path: string, img: Rgb8, text: Record<string, string> = {}): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, encodePng(img, text));
  renameSync(tmp, path); // atomic: a reader never sees half a file
}

export function readPng(path: string): RgbImage & { text: Record<string, string> } {
  return decodePng(readPngBytes(path), path);
}

/** A PNG file's bytes, read bounded and non-blocking like every engine read (decoding then checks the declared size). */
export function readPngBytes(path: string): Buffer {
  try {
    return readFileBounded(path, { maxBytes: 64 * MiB, expected: 'a PNG image' });
  } catch (e) {
    // an OS error (missing, denied) reads as "cannot read the image (…)"; a refusal by kind or size stays as it is
    if (e instanceof ReadError && e.code) throw new Error(`${path}: cannot read the image (${e.message.slice(path.length + 2)})`);
    throw e;
  }
}

/** Decodes PNG bytes (`name` is the file, for messages) once its signature and IHDR pass the limits. */
export function decodePng(bytes: Uint8Array, name: string): RgbImage & { text: Record<string, string> } {
  const { png, text } = decodeRaw(bytes, name);
  if (png.palette) return { ...fromUint8(expandPalette(png), png.width, png.height, 3), text };
  const data = png.depth === 16 ? Uint8Array.from(png.data as Uint16Array, (v) => v >> 8) : (png.data as Uint8Array);
  return { ...fromUint8(data, png.width, png.height, png.channels), text };
}

export type DecodedPng = ReturnType<typeof decode>;

/** The codec's own output (channels, depth, palette as stored) once the signature and IHDR pass the limits; a mask reads this. */
export function decodeRaw(bytes: Uint8Array, name: string): { png: DecodedPng; text: Record<string, string> } {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  checkHeader(buf, name);
  let png: DecodedPng;
  try {
    png = decode(buf);
  } catch (e) {
    throw new Error(`${name}: not a readable PNG (${(e as Error).message})`);
  }
  return { png, text: { ...png.text, ...readITXt(buf, name) } };
}

/** The PNG signature, then IHDR first (as the spec requires): non-zero and within MAX_SIDE and MAX_PIXELS. */
function checkHeader(buf: Buffer, name: string): void {
  if (buf.length < 8 || !buf.subarray(0, 8).equals(SIGNATURE)) throw new Error(`${name}: not a PNG file (no PNG signature)`);
  if (buf.length < 33 || buf.toString('latin1', 12, 16) !== 'IHDR') throw new Error(`${name}: not a readable PNG (no IHDR chunk after the signature)`);
  const width = buf.readUInt32BE(16), height = buf.readUInt32BE(20);
  if (width === 0 || height === 0) throw new Error(`${name}: the image is ${width}x${height}; an image needs at least 1x1 pixels`);
  if (width > MAX_SIDE || height > MAX_SIDE) throw new Error(`${name}: the image is ${width}x${height}, over the limit of ${MAX_SIDE} pixels a side`);
  if (width * height > MAX_PIXELS) throw new Error(`${name}: the image is ${width}x${height} (${width * height} pixels), over the limit of ${MAX_PIXELS} pixels`);
  checkInflatedSize(buf, name, width, height);
}

const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
const ADAM7 = [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]];

/**
 * The pixel data may inflate only to what the IHDR declares (filter byte + packed row, per row and
 * Adam7 pass): a compressed stream that goes on (a zlib bomb in a small image) is cut off at that
 * bound and refused, before the codec inflates it without one.
 */
function checkInflatedSize(buf: Buffer, name: string, width: number, height: number): void {
  const depth = buf[24]!, channels = CHANNELS[buf[25]!], interlaced = buf[28] === 1;
  if (!channels) throw new Error(`${name}: not a readable PNG (colour type ${buf[25]})`);
  const rows = (w: number, h: number) => (w && h ? h * (1 + Math.ceil((w * channels * depth) / 8)) : 0);
  const bound = interlaced
    ? ADAM7.reduce((a, [x0, y0, dx, dy]) => a + rows(Math.ceil((width - x0!) / dx!), Math.ceil((height - y0!) / dy!)), 0)
    : rows(width, height);
  const idat: Buffer[] = [];
  for (let o = 8; o + 12 <= buf.length; o += 12 + buf.readUInt32BE(o)) {
    if (buf.toString('latin1', o + 4, o + 8) === 'IDAT') idat.push(buf.subarray(o + 8, o + 8 + buf.readUInt32BE(o)));
  }
  try {
    inflateSync(Buffer.concat(idat), { maxOutputLength: Math.max(1, bound) });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ERR_BUFFER_TOO_LARGE') throw new Error(`${name}: not a readable PNG (its pixel data does not inflate: ${(e as Error).message})`);
    throw new Error(`${name}: its pixel data inflates past the ${bound} bytes a ${width}x${height} image holds (a compression bomb?)`);
  }
}

/** Indexed colour → RGB (indices may be packed 1, 2 or 4 bits per pixel, rows byte-aligned). */
export function expandPalette(png: DecodedPng): Uint8Array {
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

/** One PNG chunk: length, type, body, CRC. */
export function pngChunk(type: string, body: Uint8Array): Uint8Array {
  const out = Buffer.alloc(12 + body.length);
  out.writeUInt32BE(body.length, 0);
  out.write(type, 4, 'latin1');
  out.set(body, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + body.length)), 8 + body.length);
  return out;
}

function iTXt(keyword: string, text: string): Uint8Array {
  // keyword \0, compression flag 1, method 0, empty language \0, empty translated keyword \0, zlib text
  return pngChunk('iTXt', Buffer.concat([Buffer.from(keyword, 'latin1'), Buffer.from([0, 1, 0, 0, 0]), deflateSync(Buffer.from(text, 'utf8'))]));
}

/** Chunks spliced in before IEND (the last 12 bytes). */
export function insertBeforeEnd(png: Uint8Array, chunks: Uint8Array[]): Uint8Array {
  const iend = png.length - 12;
  return Buffer.concat([png.subarray(0, iend), ...chunks, png.subarray(iend)]);
}

/** iTXt chunks (fast-png reads only tEXt); compressed text is inflated up to MAX_TEXT bytes. */
function readITXt(bytes: Buffer, name: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (let o = 8; o + 12 <= bytes.length; ) {
    const len = bytes.readUInt32BE(o);
    const type = bytes.toString('latin1', o + 4, o + 8);
    if (type === 'iTXt') {
      const body = bytes.subarray(o + 8, o + 8 + len);
      const k = body.indexOf(0);
      const lang = k < 0 ? -1 : body.indexOf(0, k + 3), p = lang < 0 ? -1 : body.indexOf(0, lang + 1) + 1;
      if (p <= 0) throw new Error(`${name}: a malformed iTXt chunk at byte ${o}`);
      const keyword = body.toString('latin1', 0, k), raw = body.subarray(p);
      try {
        out[keyword] = (body[k + 1] === 1 ? inflateSync(raw, { maxOutputLength: MAX_TEXT }) : raw).toString('utf8');
      } catch (e) {
        throw new Error(`${name}: the iTXt chunk "${keyword}" cannot be read within ${MAX_TEXT} bytes (${(e as Error).message})`);
      }
    }
    o += 12 + len;
  }
  return out;
}
