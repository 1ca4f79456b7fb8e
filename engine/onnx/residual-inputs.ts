import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { onnx } from 'onnx-proto';
import { consumers, producers, type Graph, type Node } from './graph';
import { graphKey, linkExternalData } from './graph-cache';
import { cloneModel, readModel, writeModel, type ModelProto } from './model-proto';
import { elemTypeOf, moduleIndices, skipConcat } from './partition';

/**
 * ControlNet residual inputs added to any exported UNet by graph surgery, in the spirit of DeepCache
 * by partitioning: diffusers adds `down_block_additional_residuals[i]` to each down-path skip as the up
 * path reads it, and `mid_block_additional_residual` to the mid block's output. The skips are found
 * by module-path node names: each up-block resnet reads Concat(hidden, skip), and the up path pops
 * the skips from the end, so the Concats in (up block, resnet) order, reversed, are the skips in
 * down order (conv_in's output first). The Add goes in front of the Concat only: the down path
 * keeps reading the un-added tensor. The mid output is the hidden input of the first Concat; its
 * Add goes in front of every reader. Inputs are named as diffusers' ONNX exports name them.
 */
export const DOWN_RESIDUAL = 'down_block_additional_residual_';
export const MID_RESIDUAL = 'mid_block_additional_residual';

export interface SurgeryPoint {
  input: string;
  tensor: string;
  /** The nodes that now read tensor + input. */
  readers: string[];
}

/** Where the residuals go, in the order of the inputs (down 0..N-1, then mid); errors name what the graph lacks. */
export function residualPoints(g: Graph, file: string): SurgeryPoint[] {
  const ups = moduleIndices(g, 'up_blocks');
  if (ups.length === 0) throw new Error(`${file}: no nodes named .../up_blocks.N/... — ControlNet surgery needs module-path node names (export with torch.onnx.export(..., dynamo=False)), or export the UNet with residual inputs`);
  const concats: Node[] = [];
  for (const u of ups) {
    for (const r of moduleIndices(g, `up_blocks.${u}/resnets`)) {
      const c = skipConcat(g, u, r);
      if (!c) throw new Error(`${file}: up_blocks.${u}/resnets.${r} reads no Concat of (hidden, skip); cannot place the ControlNet residuals`);
      concats.push(c);
    }
  }
  const points = concats.reverse().map((c, i): SurgeryPoint => ({ input: `${DOWN_RESIDUAL}${i}`, tensor: c.input![1]!, readers: [c.name!] }));
  const first = concats[concats.length - 1]!;
  const mid = first.input![0]!;
  const midProducer = producers(g).get(mid);
  if (!midProducer || !/(^|\/)mid_block\//.test(midProducer.name ?? '')) {
    throw new Error(`${file}: the first up-block Concat's hidden input comes from ${midProducer?.name ?? 'no node'}, not the mid block; cannot place mid_block_additional_residual`);
  }
  points.push({ input: MID_RESIDUAL, tensor: mid, readers: (consumers(g).get(mid) ?? []).map((n) => n.name!) });
  return points;
}

const hasResidualInputs = (g: Graph): boolean => (g.input ?? []).some((i) => i.name === `${DOWN_RESIDUAL}0` || i.name === MID_RESIDUAL);

/** The UNet with residual inputs: `model` itself when it already has them. */
export function addResidualInputs(model: ModelProto, file: string): ModelProto {
  if (hasResidualInputs(model.graph!)) return model;
  const copy = cloneModel(model);
  const g = copy.graph!;
  const points = residualPoints(g, file);
  const nodes = [...(g.node ?? [])];
  // every residual has the activations' type (fp16 in an fp16 UNet); inferred once, not per point
  const type = elemTypeOf(model.graph!, points[0]!.tensor);
  for (const p of points) {
    const out = `/controlnet/${p.input}/Add_output_0`;
    const add: onnx.INodeProto = { opType: 'Add', name: `/controlnet/${p.input}/Add`, input: [p.tensor, p.input], output: [out] };
    const readers = new Set(p.readers);
    for (const n of nodes) if (readers.has(n.name!)) n.input = n.input!.map((i) => (i === p.tensor ? out : i));
    // just before its first reader: the tensor and the graph input are both ready there (topological order holds)
    nodes.splice(nodes.findIndex((n) => readers.has(n.name!)), 0, add);
    g.input = [...(g.input ?? []), { name: p.input, type: { tensorType: { elemType: type, shape: { dim: ['batch', 'channels', 'height', 'width'].map((d) => ({ dimParam: `${p.input}_${d}` })) } } } }];
  }
  g.node = nodes;
  return copy;
}

/** Writes (once, content-keyed in cacheDir) and returns the residual-input UNet for `unetPath`; the path itself when it has them already. */
export function residualUnet(unetPath: string, cacheDir: string): string {
  const dir = join(cacheDir, `controlnet-residuals-${graphKey(unetPath, 'residual-inputs-v1')}`);
  const out = join(dir, 'model.onnx');
  if (existsSync(out)) return out;
  const model = readModel(unetPath);
  const res = addResidualInputs(model, unetPath);
  if (res === model) return unetPath;
  writeModel(out, res);
  linkExternalData(model, unetPath, dir);
  return out;
}
