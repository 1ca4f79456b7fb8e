import { attrInt, OnnxGraph, topoSort, type Node } from './graph';
import type { ModelProto } from './model-proto';
import { INT64, readFloats, writeFloats } from './tensor-data';

/**
 * onnxruntime-node 1.29's WebGPU Conv computes a 3x3 Conv from 6, 9 or 15 input channels wrongly
 * (max-abs 9-16 against the CPU; every other count from 1 to 16 within 6e-6), on llvmpipe and on the
 * H200's adapter alike (scripts/webgpu-conv-check.ts). SD inpainting's conv_in takes 9. A Conv whose
 * input channels are not a multiple of 4 (past 4) gets zero channels padded onto its input and zero
 * weights for them: the same sums, exactly, through a channel count the kernel gets right.
 */
export const needsPad = (channels: number): boolean => channels > 4 && channels % 4 !== 0;

export function padConvChannels(model: ModelProto, path: string): { model: ModelProto; report: { padded: string[] } } {
  const g = new OnnxGraph(model.graph!);
  const padded: string[] = [], done = new Set<string>();
  const added: Node[] = [];
  for (const n of g.nodes) {
    if (n.opType !== 'Conv' || (attrInt(n, 'group') ?? 1) !== 1) continue;
    const w = g.weight(n.input![1]!);
    const dims = (w?.dims ?? []).map(Number);
    if (!w || dims.length !== 4 || !needsPad(dims[1]!)) continue;
    const [m, c, kh, kw] = dims as [number, number, number, number], to = Math.ceil(c / 4) * 4;
    if (!done.has(w.name!)) {
      const src = readFloats(w, path), dst = new Float32Array(m * to * kh * kw), k = kh * kw;
      for (let o = 0; o < m; o++) dst.set(src.subarray(o * c * k, (o + 1) * c * k), o * to * k);
      writeFloats(w, dst);
      w.dims = [m, to, kh, kw];
      done.add(w.name!);
    }
    const x = n.input![0]!, pads = `${n.name}_channel_pads`, out = `${x}_padded_${to}`;
    model.graph!.initializer!.push({ name: pads, dataType: INT64, dims: [8], int64Data: [0, 0, 0, 0, 0, to - c, 0, 0] });
    added.push({ opType: 'Pad', name: `${n.name}_channel_pad`, input: [x, pads], output: [out] });
    n.input![0] = out;
    padded.push(`${n.name} ${c}->${to}`);
  }
  // a Pad reads its Conv's input, which a later node may make: order by data flow
  if (added.length) model.graph = topoSort({ ...model.graph!, node: [...added, ...g.nodes] });
  return { model, report: { padded } };
}

