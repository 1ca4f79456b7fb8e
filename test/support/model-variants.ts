import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readModel, writeModel, type ModelProto } from '../../engine/onnx/model-proto';

/**
 * Variants of a model folder for tests: a copy (files dereferenced) with one graph rewritten on
 * its first output, or files replaced. Rewrites are real ONNX nodes, run by onnxruntime.
 */
export function modelCopy(modelDir: string, edit: { graphs?: Record<string, (m: ModelProto) => void>; files?: Record<string, string> } = {}): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'variant-')), 'model');
  cpSync(modelDir, dir, { recursive: true, dereference: true });
  for (const [part, f] of Object.entries(edit.graphs ?? {})) {
    const path = join(dir, part, 'model.onnx');
    const m = readModel(path);
    f(m);
    writeModel(path, m);
  }
  for (const [rel, text] of Object.entries(edit.files ?? {})) writeFileSync(join(dir, rel), text);
  return dir;
}

/** Renames the graph's first output's producer output and returns (old name, new name) so a node can be put after it. */
function detachOutput(m: ModelProto): { out: string; pre: string } {
  const g = m.graph!;
  const out = g.output![0]!.name!, pre = `${out}_before_test_edit`;
  for (const n of g.node!) n.output = n.output!.map((o) => (o === out ? pre : o));
  return { out, pre };
}

/** The first output multiplied by a constant (NaN, Infinity): a graph that produces garbage. */
export const timesConstant = (value: number) => (m: ModelProto): void => {
  const { out, pre } = detachOutput(m);
  const g = m.graph!;
  g.initializer!.push({ name: 'test_constant', dataType: 1, dims: [], rawData: new Uint8Array(Float32Array.of(value).buffer) });
  g.node!.push({ name: '/test/Mul', opType: 'Mul', input: [pre, 'test_constant'], output: [out] });
};

/** The first output plus a new float input `name` of the output's shape (a UNet with one more conditioning input). */
export const plusInput = (name: string) => (m: ModelProto): void => {
  const { out, pre } = detachOutput(m);
  const g = m.graph!;
  g.input!.push({ ...g.output![0]!, name });
  g.node!.push({ name: '/test/Add', opType: 'Add', input: [pre, name], output: [out] });
};
