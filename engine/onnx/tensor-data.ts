import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { dirname, join } from 'node:path';
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
      if (type === FLOAT16) return Float32Array.from(new Float16Array(bits.buffer));
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
  const typed = Number(t.dataType) === FLOAT16 ? Float16Array.from(values) : values.slice();
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
