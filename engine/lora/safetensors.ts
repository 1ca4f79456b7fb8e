import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { Float16Array } from '@petamoriken/float16';

/**
 * A safetensors file read safely: the header length is bounded, every entry's dtype and shape
 * must account for exactly its byte range, and ranges must lie inside the file. (The format is a
 * length-prefixed JSON header and raw little-endian data; no npm package reads it without pulling
 * in a framework, so this is the few lines it takes.)
 */
export interface SafeTensor {
  dtype: string;
  shape: number[];
  data: Float32Array;
}

const MAX_HEADER = 100 * 1024 * 1024;
const ITEM: Record<string, number> = { F32: 4, F16: 2, BF16: 2, F64: 8 };

export function readSafetensors(path: string): { tensors: Map<string, SafeTensor>; metadata: Record<string, string> } {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new Error(`${path}: cannot open (${(e as Error).message})`);
  }
  try {
    const size = fstatSync(fd).size;
    const head = Buffer.alloc(8);
    if (size < 8 || readSync(fd, head, 0, 8, 0) !== 8) throw new Error(`${path}: too short for a safetensors file`);
    const len = Number(head.readBigUInt64LE(0));
    if (len > MAX_HEADER || len > size - 8) throw new Error(`${path}: header length ${len} is beyond the file or the ${MAX_HEADER}-byte bound (not a safetensors file?)`);
    const hbuf = Buffer.alloc(len);
    readSync(fd, hbuf, 0, len, 8);
    let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] } | Record<string, string>>;
    try {
      header = JSON.parse(hbuf.toString('utf8'));
    } catch {
      throw new Error(`${path}: the safetensors header is not JSON`);
    }
    const { __metadata__: metadata = {}, ...entries } = header;
    const dataStart = 8 + len;
    const tensors = new Map<string, SafeTensor>();
    for (const [name, e] of Object.entries(entries) as [string, { dtype: string; shape: number[]; data_offsets: [number, number] }][]) {
      const item = ITEM[e.dtype];
      if (!item) throw new Error(`${path}: tensor "${name}" has dtype ${e.dtype}; LoRAs must be F32, F16 or BF16`);
      if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isInteger(d) && d >= 0)) throw new Error(`${path}: tensor "${name}" has a malformed shape`);
      const [b, end] = e.data_offsets;
      const count = e.shape.reduce((a, d) => a * d, 1);
      if (!(Number.isInteger(b) && Number.isInteger(end) && b >= 0 && end >= b && dataStart + end <= size)) throw new Error(`${path}: tensor "${name}" lies outside the file`);
      if ((end - b) !== count * item) throw new Error(`${path}: tensor "${name}" is ${end - b} bytes but ${e.dtype}[${e.shape}] needs ${count * item}`);
      const raw = Buffer.alloc(end - b);
      readSync(fd, raw, 0, raw.length, dataStart + b);
      tensors.set(name, { dtype: e.dtype, shape: e.shape, data: toF32(raw, e.dtype) });
    }
    return { tensors, metadata: metadata as Record<string, string> };
  } finally {
    closeSync(fd);
  }
}

function toF32(raw: Buffer, dtype: string): Float32Array {
  const ab = raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength);
  switch (dtype) {
    case 'F32':
      return new Float32Array(ab);
    case 'F64':
      return Float32Array.from(new Float64Array(ab));
    case 'F16':
      return Float32Array.from(new Float16Array(ab));
    default: {
      // bfloat16: the high half of a float32
      const u16 = new Uint16Array(ab), out = new Uint32Array(u16.length);
      for (let i = 0; i < u16.length; i++) out[i] = u16[i]! << 16;
      return new Float32Array(out.buffer);
    }
  }
}
