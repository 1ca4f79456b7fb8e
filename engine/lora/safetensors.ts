import { closeSync, readSync } from 'node:fs';
import { openBounded } from '../io/read-file';
import { z } from 'zod';
import { describeIssues } from '../../app/errors';
import { BFLOAT16, DOUBLE, FLOAT, FLOAT16, tensorValues } from '../onnx/tensor-data';

/**
 * A safetensors file read defensively (the format is a length-prefixed JSON header and raw
 * little-endian data; no npm package reads it without pulling in a framework). Only regular files
 * are opened, and without blocking (a named pipe never hangs the engine); the header length is
 * bounded before anything is allocated; the header is checked against a schema; every entry's
 * dtype and shape must account for exactly its byte range, inside the file, and no two ranges may
 * overlap; every value must be finite. Each error names the file and the tensor.
 */
export interface SafeTensor {
  dtype: string;
  shape: number[];
  data: Float32Array;
}

const MAX_HEADER = 100 * 1024 * 1024;
const ITEM: Record<string, number> = { F32: 4, F16: 2, BF16: 2, F64: 8 };
const ONNX_TYPE: Record<string, number> = { F32: FLOAT, F16: FLOAT16, BF16: BFLOAT16, F64: DOUBLE };

const Entry = z.object({
  dtype: z.string(),
  shape: z.array(z.number().int().nonnegative()),
  data_offsets: z.tuple([z.number().int().nonnegative(), z.number().int().nonnegative()]),
});
type Entry = z.infer<typeof Entry>;
const Metadata = z.record(z.string(), z.string());

export function readSafetensors(path: string): { tensors: Map<string, SafeTensor>; metadata: Record<string, string> } {
  const { fd, size } = openBounded(path, { maxBytes: Number.MAX_SAFE_INTEGER, expected: 'a safetensors file' });
  try {
    const at = (n: number, pos: number, what: string): Buffer => {
      const buf = Buffer.alloc(n);
      if (readSync(fd, buf, 0, n, pos) !== n) throw new Error(`${path}: ${what} is cut short (the file is ${size} bytes)`);
      return buf;
    };
    if (size < 8) throw new Error(`${path}: too short for a safetensors file (${size} bytes)`);
    const len = Number(at(8, 0, 'the header length').readBigUInt64LE(0));
    if (len > MAX_HEADER || len > size - 8) throw new Error(`${path}: header length ${len} is beyond the file or the ${MAX_HEADER}-byte bound (not a safetensors file?)`);
    let header: unknown;
    try {
      header = JSON.parse(at(len, 8, 'the header').toString('utf8'));
    } catch (e) {
      if (!(e instanceof SyntaxError)) throw e;
      throw new Error(`${path}: the safetensors header is not JSON`);
    }
    if (typeof header !== 'object' || header === null || Array.isArray(header)) {
      throw new Error(`${path}: the safetensors header is ${header === null ? 'null' : Array.isArray(header) ? 'an array' : `a ${typeof header}`}, not an object of tensors`);
    }
    const { __metadata__: rawMeta = {}, ...raw } = header as Record<string, unknown>;
    const meta = Metadata.safeParse(rawMeta);
    if (!meta.success) throw new Error(`${path}: __metadata__ is not a map of strings (${describeIssues(meta.error, 3)})`);
    const entries = Object.entries(raw).map(([name, e]) => [name, checkEntry(path, name, e, size - 8 - len)] as const);
    checkNoOverlap(path, entries);
    const tensors = new Map<string, SafeTensor>();
    for (const [name, e] of entries) {
      const [b, end] = e.data_offsets;
      const data = toF32(at(end - b, 8 + len + b, `tensor "${name}"`), e.dtype);
      const bad = data.findIndex((v) => !Number.isFinite(v));
      if (bad >= 0) throw new Error(`${path}: tensor "${name}" holds ${data[bad]} at index ${bad}; LoRA weights must be finite`);
      tensors.set(name, { dtype: e.dtype, shape: e.shape, data });
    }
    return { tensors, metadata: meta.data };
  } finally {
    closeSync(fd);
  }
}

/** One header entry, valid on its own: schema, dtype, byte length of dtype × shape, inside the data. */
function checkEntry(path: string, name: string, e: unknown, dataBytes: number): Entry {
  const parsed = Entry.safeParse(e);
  if (!parsed.success) throw new Error(`${path}: tensor "${name}" has a malformed entry (${describeIssues(parsed.error, 3)})`);
  const { dtype, shape, data_offsets: [b, end] } = parsed.data;
  const item = ITEM[dtype];
  if (!item) throw new Error(`${path}: tensor "${name}" has dtype ${dtype}; LoRAs must be ${Object.keys(ITEM).join(', ')}`);
  if (end < b || end > dataBytes) throw new Error(`${path}: tensor "${name}" lies outside the file (bytes ${b}..${end} of ${dataBytes})`);
  const need = shape.reduce((a, d) => a * d, 1) * item;
  if (end - b !== need) throw new Error(`${path}: tensor "${name}" is ${end - b} bytes but ${dtype}[${shape}] needs ${need}`);
  return parsed.data;
}

/** Two entries sharing bytes would alias one set of weights under two names: refused. */
function checkNoOverlap(path: string, entries: readonly (readonly [string, Entry])[]): void {
  const sorted = entries.filter(([, e]) => e.data_offsets[1] > e.data_offsets[0]).sort((x, y) => x[1].data_offsets[0] - y[1].data_offsets[0]);
  for (let i = 1; i < sorted.length; i++) {
    const [pn, p] = sorted[i - 1]!, [n, e] = sorted[i]!;
    if (e.data_offsets[0] < p.data_offsets[1]) throw new Error(`${path}: tensors "${pn}" and "${n}" share bytes ${e.data_offsets[0]}..${Math.min(p.data_offsets[1], e.data_offsets[1])}; each tensor must have its own`);
  }
}

/** Raw little-endian values as fp32, through the graph helper's one tensor reader. */
function toF32(raw: Buffer, dtype: string): Float32Array {
  const values = tensorValues({ name: dtype, dataType: ONNX_TYPE[dtype], rawData: raw });
  return values instanceof Float32Array ? values : Float32Array.from(values);
}
