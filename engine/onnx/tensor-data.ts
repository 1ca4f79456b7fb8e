import { closeSync, fstatSync, mkdirSync, openSync, readSync, renameSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { Float16Array } from '@petamoriken/float16';
import type { Tensor } from './graph';

/**
 * The one reader of tensor values (numpy_helper.to_array's part of the graph helper): raw_data,
 * the typed repeated fields, or external data beside the model, for float and integer types.
 */
export const FLOAT = 1, INT32 = 6, INT64 = 7, BOOL = 9, FLOAT16 = 10, DOUBLE = 11, BFLOAT16 = 16;
export type Half = typeof FLOAT16 | typeof BFLOAT16;
const FLOAT_TYPES = new Set([FLOAT, FLOAT16, DOUBLE, BFLOAT16]);
const ITEM: Record<number, number> = { [FLOAT]: 4, [INT32]: 4, [INT64]: 8, [FLOAT16]: 2, [DOUBLE]: 8, [BFLOAT16]: 2 };

export const isFloatType = (type: unknown): boolean => FLOAT_TYPES.has(Number(type));
export const isHalfType = (type: unknown): boolean => Number(type) === FLOAT16 || Number(type) === BFLOAT16;
export const elemCount = (t: Tensor): number => (t.dims ?? []).reduce<number>((a, d) => a * Number(d), 1);

/** A tensor's values as numbers: floats (fp16/bf16 widened) as Float32Array or Float64Array, integers as numbers. */
export function tensorValues(t: Tensor, modelPath = ''): Float32Array | Float64Array | number[] {
  const type = Number(t.dataType);
  const item = ITEM[type];
  if (!item) throw new Error(`${modelPath ? `${modelPath}: ` : ''}tensor ${t.name} has element type ${type}, not a number type read here`);
  const raw = t.dataLocation === 1 ? readExternal(t, modelPath, item) : t.rawData?.length ? t.rawData : undefined;
  const ab = raw ? raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength) : undefined;
  switch (type) {
    case FLOAT: return ab ? new Float32Array(ab) : Float32Array.from(t.floatData ?? []);
    case DOUBLE: return ab ? new Float64Array(ab) : Float64Array.from(t.doubleData ?? []);
    case INT32: return ab ? Array.from(new Int32Array(ab)) : (t.int32Data ?? []).map(Number);
    case INT64: return ab ? Array.from(new BigInt64Array(ab), Number) : (t.int64Data ?? []).map(Number);
    default: {
      // half types without raw_data keep one value per int32_data entry (low 16 bits)
      const bits = ab ? new Uint16Array(ab) : Uint16Array.from(t.int32Data ?? []);
      if (type === FLOAT16) return halfToFloat(bits);
      const wide = new Uint32Array(bits.length); // bfloat16: the high half of a float32
      for (let i = 0; i < bits.length; i++) wide[i] = bits[i]! << 16;
      return new Float32Array(wide.buffer);
    }
  }
}

/** A float tensor's values as fp32 (fp32, fp16 or bf16; inline or external data beside `modelPath`). */
export function readFloats(t: Tensor, modelPath: string): Float32Array {
  const type = Number(t.dataType);
  if (type !== FLOAT && !isHalfType(type)) throw new Error(`${modelPath ? `${modelPath}: ` : ''}tensor ${t.name} is not float32/float16/bfloat16 (type ${type})`);
  return tensorValues(t, modelPath) as Float32Array;
}

/** Stores values back inline as raw_data, in the tensor's own element type (fp32 or fp16). */
export function writeFloats(t: Tensor, values: Float32Array): void {
  if (Number(t.dataType) !== FLOAT && Number(t.dataType) !== FLOAT16) throw new Error(`tensor ${t.name}: only float32/float16 values are written back (type ${t.dataType})`);
  const typed = Number(t.dataType) === FLOAT16 ? toHalf(values) : values.slice();
  t.rawData = new Uint8Array(typed.buffer, 0, typed.byteLength);
  t.floatData = [];
  t.int32Data = [];
  t.dataLocation = 0;
  t.externalData = [];
}

/** An externally stored tensor's reference (location, offset, length), as key → value; undefined if inline. */
export function externalRef(t: Tensor): Record<string, string> | undefined {
  return t.dataLocation === 1 ? Object.fromEntries((t.externalData ?? []).map((e) => [e.key!, e.value!])) : undefined;
}

/** The bytes of an externally stored tensor, bounded by its declared size and the file's. */
function readExternal(t: Tensor, modelPath: string, item: number): Uint8Array {
  const kv = externalRef(t)!;
  if (!modelPath) throw new Error(`tensor ${t.name} is stored as external data, and no model path says where`);
  if (!kv.location) throw new Error(`${modelPath}: initializer ${t.name} is external but names no file`);
  const file = join(dirname(modelPath), kv.location);
  const offset = Number(kv.offset ?? 0), length = kv.length !== undefined ? Number(kv.length) : elemCount(t) * item;
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) throw new Error(`${modelPath}: initializer ${t.name} has a malformed external offset/length (${kv.offset}, ${kv.length})`);
  if (length !== elemCount(t) * item) throw new Error(`${modelPath}: initializer ${t.name} declares ${length} external bytes but [${t.dims}] needs ${elemCount(t) * item}`);
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (e) {
    throw new Error(`${modelPath}: initializer ${t.name} lives in ${file}, which cannot be read (${(e as Error).message})`);
  }
  try {
    const size = fstatSync(fd).size;
    if (offset + length > size) throw new Error(`${file}: initializer ${t.name} needs ${length} bytes at offset ${offset}, the file has ${Math.max(0, size - offset)} there`);
    const buf = Buffer.alloc(length);
    readSync(fd, buf, 0, length, offset);
    return buf;
  } finally {
    closeSync(fd);
  }
}

/** Every fp16 bit pattern's value: a table lookup per element, ~40x faster than Float16Array (its Proxy). */
const HALF_TO_FLOAT = Float32Array.from(new Float16Array(Uint16Array.from({ length: 65536 }, (_, i) => i).buffer));

/**
 * float32 → fp16 bits, round to nearest even with overflow to ±inf: bit for bit what
 * Float16Array.from gives (test/unit/fp16-io.test.ts), ~15x faster. For feeds; weights are
 * converted with saturation by engine/onnx/fp16.ts toHalfBits; exact ones (a transposed fp16 weight) here.
 */
export function toHalf(x: Float32Array): Uint16Array {
  const u = new Uint32Array(x.buffer, x.byteOffset, x.length), out = new Uint16Array(x.length);
  for (let i = 0; i < u.length; i++) {
    const b = u[i]!, sign = (b >>> 16) & 0x8000, e = (b >>> 23) & 0xff, m = b & 0x7fffff;
    let h: number;
    if (e === 0xff) h = sign | 0x7c00 | (m ? 0x200 : 0); // inf, NaN
    else if (e > 142) h = sign | 0x7c00; // beyond fp16's range
    else if (e > 112) {
      // normal: drop 13 mantissa bits, rounding carries into the exponent (up to inf)
      const r = ((e - 112) << 10) | (m >>> 13), rest = m & 0x1fff;
      h = sign | (r + (rest > 0x1000 || (rest === 0x1000 && r & 1) ? 1 : 0));
    } else if (e < 102) h = sign; // below half the smallest subnormal
    else {
      const mm = m | 0x800000, shift = 126 - e, r = mm >>> shift, rest = mm & ((1 << shift) - 1), half = 1 << (shift - 1);
      h = sign | (r + (rest > half || (rest === half && r & 1) ? 1 : 0));
    }
    out[i] = h;
  }
  return out;
}

/** fp16 bits → float32 by table (a multi-GB fp16 UNet's weights pass through here in graph rewrites). */
export function halfToFloat(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = HALF_TO_FLOAT[bits[i]!]!;
  return out;
}

/** The bytes of a typed array, as raw_data or external data hold them. */
export const bytesOf = (a: Uint8Array | Uint16Array | Float32Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** Appends tensors to one external-data file (created only if used), named relative to the graph. */
export class ExternalWriter {
  private fd: number | undefined;
  private offset = 0;
  constructor(private readonly path: string) {}

  put(t: Tensor, values: Uint8Array | Uint16Array | Float32Array): Tensor {
    if (this.fd === undefined) {
      mkdirSync(dirname(this.path), { recursive: true });
      this.fd = openSync(`${this.path}.tmp-${process.pid}`, 'w');
    }
    const bytes = bytesOf(values);
    writeSync(this.fd, bytes, 0, bytes.length, this.offset);
    const ref = [{ key: 'location', value: basename(this.path) }, { key: 'offset', value: String(this.offset) }, { key: 'length', value: String(bytes.length) }];
    this.offset += bytes.length;
    return { ...t, dataLocation: 1, externalData: ref };
  }

  close(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    renameSync(`${this.path}.tmp-${process.pid}`, this.path);
  }
}
