import type { onnx } from 'onnx-proto';
import { toHalfBits } from '../../engine/onnx/fp16';
import { FLOAT16, readFloats } from '../../engine/onnx/tensor-data';
import { readModel, type ModelProto } from '../../engine/onnx/model-proto';

/** A graph with its matrices stored as fp16 behind Cast(to fp32), as size-saving exports (the emoji model) store them. */
export function castStoredWeights(path: string): ModelProto {
  const m = readModel(path), g = m.graph!;
  const casts: onnx.INodeProto[] = [];
  g.initializer = g.initializer!.map((t) => {
    if ((t.dims ?? []).length < 2) return t;
    casts.push({ name: `${t.name}_cast`, opType: 'Cast', input: [`${t.name}_fp16`], output: [t.name!], attribute: [{ name: 'to', type: 2, i: 1 }] });
    return { name: `${t.name}_fp16`, dims: t.dims, dataType: FLOAT16, rawData: new Uint8Array(toHalfBits(readFloats(t, path), FLOAT16).buffer) };
  });
  g.node = [...casts, ...g.node!];
  return m;
}
