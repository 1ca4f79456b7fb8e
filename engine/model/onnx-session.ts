import { existsSync } from 'node:fs';
import ort from 'onnxruntime-node';
import { checkRegularFile, ONNX_FILE } from '../io/read-file';
import { halfToFloat, toHalf } from '../onnx/tensor-data';
import { registerSession } from './device-tensors';

export { toHalf };

export type OrtSession = ort.InferenceSession;
export type SessionOptions = ort.InferenceSession.SessionOptions;

/** Opens one ONNX graph; the error names the file (external data `model.onnx_data` is found beside it by ORT). */
export async function openSession(path: string, options: SessionOptions): Promise<OrtSession> {
  checkOnnxFile(path);
  try {
    const session = await ort.InferenceSession.create(path, withSpinning(options));
    registerSession(session, options);
    return session;
  } catch (e) {
    throw new Error(`${path}: onnxruntime could not load it (${ortReason(path, e)})`);
  }
}

/**
 * Intra-op threads spin while waiting by default: the lowest latency for one process alone.
 * STUDIO_ORT_SPINNING=0 turns that off for every graph, for processes that share few cores: the
 * test suite's two forks on 2 cores spent ~28% of their CPU spinning (measured 2026-12-03).
 */
function withSpinning(options: SessionOptions): SessionOptions {
  return process.env.STUDIO_ORT_SPINNING === '0' ? noSpinning(options) : options;
}

/** `options` with onnxruntime's intra-op workers not spinning. */
export function noSpinning<T extends SessionOptions>(options: T): T {
  return { ...options, extra: { ...options.extra, 'session.intra_op.allow_spinning': '0' } };
}

/**
 * Before onnxruntime opens a graph itself (a blocking open, an unbounded read): the graph and
 * its external data beside it must be non-empty regular files.
 */
export function checkOnnxFile(path: string): void {
  checkRegularFile(path, ONNX_FILE);
  const data = `${path}_data`;
  if (existsSync(data)) checkRegularFile(data, { maxBytes: Number.MAX_SAFE_INTEGER, expected: `the external weights of ${path}` });
}

/** onnxruntime's first line without its "Load model from <path> failed:" prefix and source location. */
function ortReason(path: string, e: unknown): string {
  const line = String((e as Error).message).split('\n')[0]!.replace(`Load model from ${path} failed:`, '').replace(/^\/onnxruntime_src\S* \S+\(.*?\) /, '').trim();
  return /Protobuf parsing failed|does not have a graph/.test(line) ? `not an ONNX graph, or a truncated one: ${line}` : line;
}

export interface InputSpec {
  name: string;
  type: string;
  shape: readonly (number | string)[];
}

/** An input's declared name, element type and shape, read from the session (never assumed). */
export function inputSpec(session: OrtSession, name: string, file: string): InputSpec {
  const meta = session.inputMetadata.find((m) => m.name === name);
  if (!meta) throw new Error(`${file}: expected an input named "${name}" (found ${session.inputNames.join(', ')})`);
  if (!meta.isTensor) throw new Error(`${file}: input "${name}" is not a tensor`);
  return { name, type: meta.type, shape: meta.shape };
}

export function tensor(type: string, data: Float32Array | Int32Array | BigInt64Array, dims: readonly number[]): ort.Tensor {
  return new ort.Tensor(type as 'float32', data as Float32Array, dims);
}

/**
 * fp16 bits of float32 data that the engine already has: an fp16 output's own bits (a cached
 * feature fed back), or a constant feed converted once. Keyed by the array, so tensors handed to
 * or returned from a graph must not be written in place afterwards (the engine never does).
 */
const halfOf = new WeakMap<Float32Array, Uint16Array>();

/**
 * Converts float32 data to what an input declares (float32, float16 or an integer type).
 * `reuse`: the data is the same on every call (encoder_hidden_states), so its fp16 form is kept.
 */
export function asInput(spec: InputSpec, data: Float32Array | Int32Array, dims: readonly number[], reuse = false): ort.Tensor {
  switch (spec.type) {
    case 'float32':
      return new ort.Tensor('float32', data instanceof Float32Array ? data : Float32Array.from(data), dims);
    case 'float16': {
      // ORT's node binding takes float16 as raw bits in a Uint16Array
      const f32 = data instanceof Float32Array ? data : Float32Array.from(data);
      let bits = halfOf.get(f32);
      if (!bits) {
        bits = toHalf(f32);
        if (reuse) halfOf.set(f32, bits);
      }
      return new ort.Tensor('float16', bits, dims);
    }
    case 'int32':
      return new ort.Tensor('int32', data instanceof Int32Array ? data : Int32Array.from(data, Math.round), dims);
    case 'int64':
      return new ort.Tensor('int64', BigInt64Array.from(data, (v) => BigInt(Math.round(v))), dims);
    default:
      throw new Error(`input "${spec.name}" has element type ${spec.type}, which the engine does not feed`);
  }
}

/** An output as float32, whatever its element type (an fp16 output's bits are kept for feeding it back). */
export function toFloat32(t: ort.Tensor): Float32Array {
  if (t.type === 'float32') return t.data as Float32Array;
  if (t.type === 'float16') {
    const bits = t.data as Uint16Array, out = halfToFloat(bits);
    halfOf.set(out, bits);
    return out;
  }
  throw new Error(`output of element type ${t.type} where float32 or float16 was expected`);
}

