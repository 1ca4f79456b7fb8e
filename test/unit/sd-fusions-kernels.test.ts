/**
 * Which providers have kernels for each SD-fusion contrib op: one tiny graph per op, opened and run
 * on the CPU provider (and WebGPU where an adapter is found). The measured answers must be what
 * engine/accelerations/sd-fusions.ts's KERNELS table says, so the table cannot drift from onnxruntime.
 */
import ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { SD_FUSION_PARTS, type SdFusionPart } from '../../app/accelerations/sd-fusions';
import { probeProvider } from '../../engine/accelerations/provider';
import { KERNELS } from '../../engine/accelerations/sd-fusions';
import { makeAttr, type Attribute } from '../../engine/onnx/graph';
import { encodeModel } from '../../engine/onnx/model-proto';
import { FLOAT } from '../../engine/onnx/tensor-data';

interface Probe { op: string; inputs: Record<string, number[]>; outputs: number; attrs: Attribute[]; weights?: Record<string, number[]> }

/** One contrib node per part, at shapes the CUDA kernels accept (SD 1.5 widths). */
const PROBES: Record<SdFusionPart, Probe> = {
  packedQkv: { op: 'MultiHeadAttention', inputs: { qkv: [1, 16, 2, 3, 8] }, outputs: 1, attrs: [makeAttr('num_heads', { i: 2 })] },
  groupNorm: {
    op: 'GroupNorm', inputs: { x: [1, 4, 4, 64] }, weights: { gamma: [64], beta: [64] }, outputs: 1,
    attrs: [makeAttr('groups', { i: 32 }), makeAttr('epsilon', { f: 1e-5 }), makeAttr('activation', { i: 1 }), makeAttr('channels_last', { i: 1 })],
  },
  skipGroupNorm: {
    op: 'SkipGroupNorm', inputs: { x: [1, 4, 4, 64] }, weights: { gamma: [64], beta: [64], skip: [1, 4, 4, 64] }, outputs: 2,
    attrs: [makeAttr('groups', { i: 32 }), makeAttr('epsilon', { f: 1e-5 }), makeAttr('activation', { i: 0 }), makeAttr('channels_last', { i: 1 })],
  },
  biasSplitGelu: { op: 'BiasSplitGelu', inputs: { x: [1, 4, 2560] }, weights: { bias: [2560] }, outputs: 1, attrs: [] },
  biasAdd: { op: 'BiasAdd', inputs: { x: [1, 4, 320] }, weights: { bias: [320], skip: [1, 4, 320] }, outputs: 1, attrs: [] },
  nhwcConv: { op: 'NhwcConv', inputs: { x: [1, 8, 8, 4] }, weights: { w: [8, 3, 3, 4], b: [8] }, outputs: 1, attrs: [makeAttr('pads', { ints: [1, 1, 1, 1] })] },
};

const size = (d: number[]) => d.reduce((a, b) => a * b, 1);
const values = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.7) * 0.5);
const tensorType = (dims: number[]) => ({ tensorType: { elemType: FLOAT, shape: { dim: dims.map((d) => ({ dimValue: d })) } } });

function probeModel(p: Probe): Uint8Array {
  const weights = Object.entries(p.weights ?? {}).map(([name, dims]) => ({ name, dims, dataType: FLOAT, rawData: new Uint8Array(values(size(dims)).buffer) }));
  const outs = Array.from({ length: p.outputs }, (_, k) => `y${k}`);
  return encodeModel({
    irVersion: 8, opsetImport: [{ domain: '', version: 17 }, { domain: 'com.microsoft', version: 1 }],
    graph: {
      name: p.op,
      node: [{ opType: p.op, domain: 'com.microsoft', input: [...Object.keys(p.inputs), ...Object.keys(p.weights ?? {})], output: outs, attribute: p.attrs }],
      input: Object.entries(p.inputs).map(([name, dims]) => ({ name, type: tensorType(dims) })),
      output: outs.map((name) => ({ name, type: { tensorType: { elemType: FLOAT } } })),
      initializer: weights,
    },
  });
}

/** 'runs', or onnxruntime's first line of why not. */
async function verdict(p: Probe, provider: string): Promise<string> {
  try {
    const s = await ort.InferenceSession.create(probeModel(p), { executionProviders: [provider], logSeverityLevel: 4 });
    try {
      const feeds = Object.fromEntries(Object.entries(p.inputs).map(([n, d]) => [n, new ort.Tensor('float32', values(size(d)), d)]));
      const out = await s.run(feeds);
      if (Object.values(out).some((t) => !(t.data as Float32Array).every(Number.isFinite))) return 'non-finite output';
      return 'runs';
    } finally {
      await s.release();
    }
  } catch (e) {
    return String((e as Error).message).split('\n')[0]!;
  }
}

const webgpu = await probeProvider('webgpu');
const providers = ['cpu', ...(webgpu.available ? ['webgpu'] : [])];
if (!webgpu.available) console.warn(`sd-fusions kernel probe: WebGPU not probed (${webgpu.reason})`);

describe('SD fusions: which providers have the contrib kernels (KERNELS is measured, not assumed)', () => {
  for (const provider of providers) {
    for (const part of SD_FUSION_PARTS) {
      it(`${part} (${PROBES[part].op}) on ${provider}: ${KERNELS[part].has(provider) ? 'runs' : 'has no kernel'}, as KERNELS says`, async () => {
        const v = await verdict(PROBES[part], provider);
        if (KERNELS[part].has(provider)) expect(v).toBe('runs');
        // a missing kernel, not a malformed probe: no implementation, refused layout, or no provider to place it on
        else expect(v).toMatch(/Could not find an implementation for|not implemented for|Provider type for \w+ node with name '' is not set/);
      });
    }
  }
});
