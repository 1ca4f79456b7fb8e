import { closeSync, openSync, readSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Float16Array } from '@petamoriken/float16';
import type { onnx } from 'onnx-proto';

const FLOAT = 1, FLOAT16 = 10;

/** A float initializer's values, wherever they are stored (raw_data, float_data or external data). */
export function readFloats(t: onnx.ITensorProto, modelPath: string): Float32Array {
  if (t.dataType !== FLOAT && t.dataType !== FLOAT16) throw new Error(`initializer ${t.name} is not float32/float16 (type ${t.dataType})`);
  let raw: Uint8Array | undefined;
  if (t.dataLocation === 1) {
    const kv = Object.fromEntries((t.externalData ?? []).map((e) => [e.key, e.value]));
    const file = join(dirname(modelPath), kv.location!);
    const offset = Number(kv.offset ?? 0), length = Number(kv.length);
    const buf = Buffer.alloc(length);
    const fd = openSync(file, 'r');
    try {
      readSync(fd, buf, 0, length, offset);
    } finally {
      closeSync(fd);
    }
    raw = buf;
  } else if (t.rawData && t.rawData.length) {
    raw = t.rawData;
  }
  if (raw) {
    const ab = raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength);
    return t.dataType === FLOAT ? new Float32Array(ab) : Float32Array.from(new Float16Array(ab));
  }
  if (t.dataType === FLOAT) return Float32Array.from(t.floatData ?? []);
  // float16 in int32_data: one value per int, low 16 bits
  return Float32Array.from(new Float16Array(Uint16Array.from(t.int32Data ?? []).buffer));
}

/** Stores values back inline as raw_data, in the initializer's own element type. */
export function writeFloats(t: onnx.ITensorProto, values: Float32Array): void {
  const bytes = t.dataType === FLOAT16 ? new Uint8Array(Float16Array.from(values).buffer) : new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
  t.rawData = bytes;
  t.floatData = [];
  t.int32Data = [];
  t.dataLocation = 0;
  t.externalData = [];
}

export interface WeightNode {
  /** Module path with dots, as the model's state dict names it (e.g. down_blocks.0.attentions.0.proj_in). */
  module: string;
  op: 'MatMul' | 'Gemm' | 'Conv';
  /** The weight initializer and how it is laid out: MatMul stores Wᵀ [in, out]; Gemm per transB; Conv [out, in, kh, kw]. */
  tensor: onnx.ITensorProto;
  transposed: boolean;
}

/**
 * Weight-bearing nodes by module path, read from node names (`/prefix/down_blocks.0/.../to_q/MatMul`).
 * Export prefixes (`/m/`, `/text_model/`) are dropped, so lookups work for any wrapper.
 */
export function weightNodes(g: onnx.IGraphProto): Map<string, WeightNode> {
  const inits = new Map((g.initializer ?? []).map((t) => [t.name!, t]));
  // weights stored in fp16 reach their node through a Cast (fp16 storage, fp32 compute): look through it
  for (const n of g.node ?? []) {
    if (n.opType === 'Cast' && inits.has(n.input![0]!) && !inits.has(n.output![0]!)) inits.set(n.output![0]!, inits.get(n.input![0]!)!);
  }
  const out = new Map<string, WeightNode>();
  for (const n of g.node ?? []) {
    const op = n.opType as WeightNode['op'];
    if (op !== 'MatMul' && op !== 'Gemm' && op !== 'Conv') continue;
    const w = op === 'MatMul' ? n.input!.find((i) => inits.has(i)) : n.input![1];
    const tensor = w ? inits.get(w) : undefined;
    if (!tensor) continue;
    const parts = (n.name ?? '').split('/').filter(Boolean).slice(0, -1);
    if (parts.length === 0) continue;
    const transB = n.attribute?.find((a) => a.name === 'transB')?.i;
    out.set(parts.join('.'), { module: parts.join('.'), op, tensor, transposed: op === 'MatMul' || (op === 'Gemm' && Number(transB ?? 0) === 0) });
  }
  return out;
}
