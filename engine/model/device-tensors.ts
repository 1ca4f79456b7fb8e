import ort from 'onnxruntime-node';
import { makeAttr } from '../onnx/graph';
import { encodeModel } from '../onnx/model-proto';
import onnxProto from 'onnx-proto';
import type { OrtSession, SessionOptions } from './onnx-session';

/**
 * Tensors that stay on the GPU between session runs (WebGPU only: onnxruntime-node 1.29 makes
 * GPU-buffer tensors for that provider alone, and only as session outputs; `getData()` on one
 * aborts the process, so the engine never downloads through it). Uploads go through an Identity
 * graph whose output is a GPU buffer; downloads are outputs the session puts on the CPU.
 *
 * Every copy between host and device made at the session boundary is counted (onnxruntime's own
 * copies inside a run, for nodes it placed on the CPU, are not visible here). One run at a time
 * per engine (the job queue), so one process-wide count serves the loop's per-step figures.
 */
let transfers = 0;
export const hostTransfers = (): number => transfers;
export const countTransfers = (n: number): void => {
  transfers += n;
};

/** Sessions whose graph runs on a device (any provider but cpu): their host inputs and outputs are copies. */
const deviceSessions = new WeakSet<OrtSession>();
/** Sessions on WebGPU: they accept and return GPU-buffer tensors. */
const gpuBufferSessions = new WeakSet<OrtSession>();

export function registerSession(session: OrtSession, options: SessionOptions): void {
  const first = options.executionProviders?.[0];
  const name = typeof first === 'string' ? first : first?.name;
  if (!name || name === 'cpu') return;
  deviceSessions.add(session);
  if (name === 'webgpu') gpuBufferSessions.add(session);
}
export const onDevice = (s: OrtSession): boolean => deviceSessions.has(s);
export const takesGpuBuffers = (s: OrtSession): boolean => gpuBufferSessions.has(s);

/** A GPU-buffer output as the engine passes it on: no host data (reading it is a bug, so `data` is empty). */
export const NO_HOST_DATA = new Float32Array(0);

const { onnx } = onnxProto;
const ELEM: Record<string, number> = { float32: onnx.TensorProto.DataType.FLOAT, float16: onnx.TensorProto.DataType.FLOAT16, int32: onnx.TensorProto.DataType.INT32 };
/** One-node WebGPU graphs by op, element type and output location, opened once per process. */
const tiny = new Map<string, Promise<OrtSession>>();

/** A one-node graph on WebGPU from input `x` to `output` (of any shape) for one element type, its output left where `to` says. */
function tinyGraph(node: onnxProto.onnx.INodeProto, output: string, type: string, to: 'gpu-buffer' | 'cpu'): Promise<OrtSession> {
  const key = `${node.opType} ${type} ${to}`;
  let s = tiny.get(key);
  if (!s) {
    const elem = ELEM[type];
    if (elem === undefined) throw new Error(`device ${node.name} of a ${type} tensor: only ${Object.keys(ELEM).join(', ')} are kept on the GPU`);
    const vi = (name: string) => ({ name, type: { tensorType: { elemType: elem } } });
    const bytes = encodeModel({ irVersion: 8, opsetImport: [{ domain: '', version: 17 }], graph: { name: node.name, node: [node], input: [vi('x')], output: [vi(output)] } });
    s = ort.InferenceSession.create(bytes, { executionProviders: ['webgpu'], preferredOutputLocation: to, logSeverityLevel: 3 });
    s.catch(() => tiny.delete(key));
    tiny.set(key, s);
  }
  return s;
}

/** An Identity graph: `to` 'gpu-buffer' uploads, 'cpu' downloads. */
const identity = (type: string, to: 'gpu-buffer' | 'cpu') => tinyGraph({ opType: 'Identity', input: ['x'], output: ['y'], name: 'copy' }, 'y', type, to);

/** Copies a host tensor to the GPU once (counted); the result can feed any WebGPU session. */
export async function upload(t: ort.Tensor): Promise<ort.Tensor> {
  const s = await identity(t.type, 'gpu-buffer');
  countTransfers(1);
  return (await s.run({ x: t })).y as ort.Tensor;
}

/** The second half along the batch of a GPU-buffer tensor (the conditional half of a CFG batch), left on the GPU. */
export async function secondHalf(t: ort.Tensor): Promise<ort.Tensor> {
  if (t.location !== 'gpu-buffer' || ELEM[t.type] === undefined) throw new Error(`secondHalf: expected a GPU-buffer tensor of ${Object.keys(ELEM).join(', ')}, got a ${t.type} tensor on the ${t.location}`);
  const split = { opType: 'Split', input: ['x'], output: ['first', 'second'], name: 'halves', attribute: [makeAttr('axis', { i: 0 })] };
  const s = await tinyGraph(split, 'second', t.type, 'gpu-buffer');
  return (await s.run({ x: t })).second as ort.Tensor;
}

/** Copies a GPU-buffer tensor to the host (counted): previews and the final latents of the resident loop. */
export async function download(t: ort.Tensor): Promise<ort.Tensor> {
  if (t.location !== 'gpu-buffer') throw new Error(`download: the tensor is on the ${t.location}, not the GPU`);
  const s = await identity(t.type, 'cpu');
  countTransfers(1);
  return (await s.run({ x: t })).y as ort.Tensor;
}
