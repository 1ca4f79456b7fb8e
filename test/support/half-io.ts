import { join } from 'node:path';
import { convertToHalf } from '../../engine/onnx/fp16';
import { makeAttr } from '../../engine/onnx/graph';
import { readModel, writeModel } from '../../engine/onnx/model-proto';
import { FLOAT, FLOAT16 } from '../../engine/onnx/tensor-data';
import { modelCopy } from './model-variants';

/**
 * The graph at `path` rewritten to compute in fp16 with fp16 float inputs and outputs, as
 * diffusers' fp16 ONNX exports are (the engine's own conversion keeps fp32 I/O).
 */
export function halfIoGraph(path: string): void {
  convertToHalf(readModel(path), path, path);
  const m = readModel(path), g = m.graph!;
  const isFloat = (v: { type?: { tensorType?: { elemType?: number | null } | null } | null }) => v.type?.tensorType?.elemType === FLOAT;
  const casts = [];
  for (const i of (g.input ?? []).filter(isFloat)) {
    const inner = `${i.name}/from_fp16`;
    for (const n of g.node!) n.input = n.input!.map((x) => (x === i.name ? inner : x));
    casts.push({ name: inner, opType: 'Cast', input: [i.name!], output: [inner], attribute: [makeAttr('to', { i: FLOAT })] });
    i.type!.tensorType!.elemType = FLOAT16;
  }
  for (const o of (g.output ?? []).filter(isFloat)) {
    const inner = `${o.name}/before_fp16`;
    for (const n of g.node!) n.output = n.output!.map((x) => (x === o.name ? inner : x));
    g.node!.push({ name: `${o.name}/to_fp16`, opType: 'Cast', input: [inner], output: [o.name!], attribute: [makeAttr('to', { i: FLOAT16 })] });
    o.type!.tensorType!.elemType = FLOAT16;
  }
  g.node = [...casts, ...g.node!];
  writeModel(path, m);
}

/** A copy of a model folder whose UNet is stored, computes and takes its I/O in fp16. */
export function halfIoUnetFolder(modelDir: string): string {
  const dir = modelCopy(modelDir);
  halfIoGraph(join(dir, 'unet', 'model.onnx'));
  return dir;
}
