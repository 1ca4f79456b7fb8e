import { writeFileSync, renameSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import onnxProto, { type onnx as Onnx } from 'onnx-proto';
import { ONNX_FILE, readFileBounded } from '../io/read-file';

// onnx-proto is CommonJS: its namespace comes through the default export
const { onnx } = onnxProto;

/**
 * ONNX graphs as protobuf messages (onnx-proto's generated protobufjs code): the one place graph
 * rewrites read and write models. Weights kept as external data stay external (only their
 * references are read), so a multi-GB UNet's graph still parses in a few MB.
 */
export type ModelProto = Onnx.ModelProto;

export function readModel(path: string): Onnx.ModelProto {
  const bytes = readFileBounded(path, ONNX_FILE);
  let model: Onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new Error(`${path}: not an ONNX graph, or a truncated one (${(e as Error).message})`);
  }
  if (!model.graph) throw new Error(`${path}: not an ONNX graph (the ModelProto has no graph)`);
  return model;
}

/** A deep copy (rewrites never touch the graph they were given). */
export function cloneModel(model: Onnx.IModelProto): Onnx.ModelProto {
  return onnx.ModelProto.decode(encodeModel(model));
}

export function encodeModel(model: Onnx.IModelProto): Uint8Array {
  return onnx.ModelProto.encode(model).finish();
}

/** Atomic write: a crash never leaves half a cached graph behind. */
export function writeModel(path: string, model: Onnx.IModelProto): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, encodeModel(model));
  renameSync(tmp, path);
}

/** A graph with a single Identity node: the cheapest thing to open a session on (provider probes). */
export function identityModel(): Uint8Array {
  const vi = (name: string) => ({ name, type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: [{ dimValue: 1 }] } } } });
  return encodeModel({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: { name: 'probe', node: [{ opType: 'Identity', input: ['x'], output: ['y'], name: 'id' }], input: [vi('x')], output: [vi('y')] },
  });
}
