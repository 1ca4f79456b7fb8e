/**
 * The SD fusions' rewiring checked on the CPU, which has none of their kernels: each contrib node of
 * a fused graph is written back as the standard ONNX ops its com.microsoft spec defines (NhwcConv as
 * transposed Conv, GroupNorm as the InstanceNormalization decomposition, SkipGroupNorm as Add first,
 * packed attention as Split + unpacked MultiHeadAttention, ...), and the result must equal the
 * unfused graph within fp32 noise. That catches layouts, transposes cancelled wrongly, a residual
 * sum routed to the wrong reader; the kernels themselves are the CUDA run's to measure.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { SD_FUSION_PARTS, type SdFusionPart } from '../../app/accelerations/sd-fusions';
import { fuseSd } from '../../engine/accelerations/sd-fusions';
import { fuseBiasAdd } from '../../engine/onnx/bias-add-fusion';
import { fuseBiasSplitGelu } from '../../engine/onnx/bias-split-gelu-fusion';
import { fuseNhwcConv } from '../../engine/onnx/nhwc-conv-fusion';
import { attrInt, attrInts, makeAttr, OnnxGraph, type Node, type Tensor } from '../../engine/onnx/graph';
import { readModel, writeModel, type ModelProto } from '../../engine/onnx/model-proto';
import { linkExternalData } from '../../engine/onnx/graph-cache';
import { FLOAT, INT64 } from '../../engine/onnx/tensor-data';
import { FIXTURE_MODEL, maxAbsDiff } from '../parity/reference';

const i64 = (name: string, v: number[]): Tensor => ({ name, dataType: INT64, dims: [v.length], int64Data: v });
const f32 = (name: string, v: number[]): Tensor => ({ name, dataType: FLOAT, dims: [v.length], rawData: new Uint8Array(Float32Array.from(v).buffer) });
const tr = (name: string, x: string, y: string, perm: number[]): Node => ({ name, opType: 'Transpose', input: [x], output: [y], attribute: [makeAttr('perm', { ints: perm })] });

/** The fused graph with every SD-fusion contrib node replaced by its definition in standard ops. */
function expand(model: ModelProto): ModelProto {
  const g = new OnnxGraph(model.graph!);
  const inits: Tensor[] = [];
  const groupNorm = (p: string, x: string, n: Node, y: string): Node[] => {
    const groups = attrInt(n, 'groups')!, silu = attrInt(n, 'activation') === 1;
    inits.push(i64(`${p}/split`, [0, groups, -1]), f32(`${p}/ones`, Array(groups).fill(1)), f32(`${p}/zeros`, Array(groups).fill(0)), i64(`${p}/c11`, [-1, 1, 1]));
    const a = silu ? `${p}/affine` : `${p}/nchw_out`;
    return [
      tr(`${p}/t`, x, `${p}/nchw`, [0, 3, 1, 2]),
      { name: `${p}/r`, opType: 'Reshape', input: [`${p}/nchw`, `${p}/split`], output: [`${p}/groups`] },
      { name: `${p}/in`, opType: 'InstanceNormalization', input: [`${p}/groups`, `${p}/ones`, `${p}/zeros`], output: [`${p}/normed`], attribute: [makeAttr('epsilon', { f: n.attribute!.find((q) => q.name === 'epsilon')!.f! })] },
      { name: `${p}/s`, opType: 'Shape', input: [`${p}/nchw`], output: [`${p}/shape`] },
      { name: `${p}/r2`, opType: 'Reshape', input: [`${p}/normed`, `${p}/shape`], output: [`${p}/back`] },
      { name: `${p}/gr`, opType: 'Reshape', input: [n.input![1]!, `${p}/c11`], output: [`${p}/gamma`] },
      { name: `${p}/br`, opType: 'Reshape', input: [n.input![2]!, `${p}/c11`], output: [`${p}/beta`] },
      { name: `${p}/mul`, opType: 'Mul', input: [`${p}/back`, `${p}/gamma`], output: [`${p}/scaled`] },
      { name: `${p}/add`, opType: 'Add', input: [`${p}/scaled`, `${p}/beta`], output: [a] },
      ...(silu ? [
        { name: `${p}/sig`, opType: 'Sigmoid', input: [a], output: [`${p}/sig_out`] },
        { name: `${p}/silu`, opType: 'Mul', input: [a, `${p}/sig_out`], output: [`${p}/nchw_out`] },
      ] : []),
      tr(`${p}/t2`, `${p}/nchw_out`, y, [0, 2, 3, 1]),
    ];
  };
  const unpack = (p: string, packed: string, parts: number): { nodes: Node[]; outs: string[] } => {
    const raw = Array.from({ length: parts }, (_, k) => `${p}/raw${k}`), outs = raw.map((_, k) => `${p}/flat${k}`);
    inits.push(i64(`${p}/axis`, [3]), i64(`${p}/flat`, [0, 0, -1]));
    return {
      nodes: [
        { name: `${p}/split`, opType: 'Split', input: [packed], output: raw, attribute: [makeAttr('axis', { i: 3 })] },
        ...raw.flatMap((r, k): Node[] => [
          { name: `${p}/sq${k}`, opType: 'Squeeze', input: [r, `${p}/axis`], output: [`${r}/sq`] },
          { name: `${p}/re${k}`, opType: 'Reshape', input: [`${r}/sq`, `${p}/flat`], output: [outs[k]!] },
        ]),
      ],
      outs,
    };
  };
  const node = g.nodes.flatMap((n, idx): Node[] => {
    const p = `expand${idx}`, [x, a, b, c] = n.input!, y = n.output![0]!;
    switch (n.domain === 'com.microsoft' ? n.opType : '') {
      case 'NhwcConv':
        return [
          tr(`${p}/tx`, x!, `${p}/x`, [0, 3, 1, 2]), tr(`${p}/tw`, a!, `${p}/w`, [0, 3, 1, 2]),
          { name: `${p}/conv`, opType: 'Conv', input: [`${p}/x`, `${p}/w`, ...n.input!.slice(2)], output: [`${p}/y`], attribute: n.attribute },
          tr(`${p}/ty`, `${p}/y`, y, [0, 2, 3, 1]),
        ];
      case 'GroupNorm':
        return groupNorm(p, x!, n, y);
      case 'SkipGroupNorm': {
        // an (N, C) skip (the time embedding, read straight from its Gemm) broadcasts as (N, 1, 1, C)
        const flat = g.producer(c!)?.opType === 'Gemm';
        if (flat) inits.push(i64(`${p}/hw`, [1, 2]));
        const skip = flat ? `${p}/skip4` : c!, sum = n.output![1] ?? `${p}/sum`;
        return [
          ...(flat ? [{ name: `${p}/us`, opType: 'Unsqueeze', input: [c!, `${p}/hw`], output: [skip] }] : []),
          { name: `${p}/sum`, opType: 'Add', input: [x!, skip], output: [sum] },
          ...groupNorm(p, sum, n, y),
        ];
      }
      case 'BiasSplitGelu':
        inits.push(f32(`${p}/sqrt2`, [Math.SQRT2]), f32(`${p}/one`, [1]), f32(`${p}/half`, [0.5]));
        return [
          { name: `${p}/add`, opType: 'Add', input: [x!, a!], output: [`${p}/p`] },
          { name: `${p}/split`, opType: 'Split', input: [`${p}/p`], output: [`${p}/h`, `${p}/g`], attribute: [makeAttr('axis', { i: -1 })] },
          { name: `${p}/div`, opType: 'Div', input: [`${p}/g`, `${p}/sqrt2`], output: [`${p}/gd`] },
          { name: `${p}/erf`, opType: 'Erf', input: [`${p}/gd`], output: [`${p}/e`] },
          { name: `${p}/e1`, opType: 'Add', input: [`${p}/e`, `${p}/one`], output: [`${p}/e1o`] },
          { name: `${p}/ge`, opType: 'Mul', input: [`${p}/g`, `${p}/e1o`], output: [`${p}/ge_o`] },
          { name: `${p}/gh`, opType: 'Mul', input: [`${p}/ge_o`, `${p}/half`], output: [`${p}/gelu`] },
          { name: `${p}/out`, opType: 'Mul', input: [`${p}/h`, `${p}/gelu`], output: [y] },
        ];
      case 'BiasAdd':
        return [
          { name: `${p}/bias`, opType: 'Add', input: [x!, a!], output: [`${p}/biased`] },
          { name: `${p}/skip`, opType: 'Add', input: [`${p}/biased`, b!], output: [y] },
        ];
      case 'MultiHeadAttention': {
        if (n.input!.length >= 3) return [n];
        const u = unpack(p, n.input!.length === 1 ? x! : a!, n.input!.length === 1 ? 3 : 2);
        const qkv = n.input!.length === 1 ? u.outs : [x!, ...u.outs];
        return [...u.nodes, { ...n, input: qkv }];
      }
      default:
        return [n];
    }
  });
  return { ...model, graph: { ...model.graph!, node, initializer: [...(model.graph!.initializer ?? []), ...inits] } } as ModelProto;
}

const dir = mkdtempSync(join(tmpdir(), 'sdf-rewire-'));
const rnd = (n: number, k: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + k));

/** The UNet's output (ctx: the text width), or with ctx 0 a VAE decoder's. */
async function unetOut(path: string, hw: number, ctx: number): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(path, { executionProviders: ['cpu'], logSeverityLevel: 4 });
  const out = await s.run(ctx ? {
    sample: new ort.Tensor('float32', rnd(2 * 4 * hw * hw, 1), [2, 4, hw, hw]),
    timestep: new ort.Tensor('float32', Float32Array.of(500), [1]),
    encoder_hidden_states: new ort.Tensor('float32', rnd(2 * 77 * ctx, 2), [2, 77, ctx]),
  } : { latent_sample: new ort.Tensor('float32', rnd(4 * hw * hw, 1), [1, 4, hw, hw]) });
  await s.release();
  return out[s.outputNames[0]!]!.data as Float32Array;
}


type Fuse = (m: ModelProto, file: string) => { model: ModelProto; report: Record<string, number> };
/** fuseSd's parts, with BiasSplitGelu and BiasAdd at any width (the fixtures are narrower than the CUDA kernels take). */
const anyWidth = (parts: SdFusionPart[]): Fuse => (m, file) => {
  const r = fuseSd(m, file, parts.filter((p) => p !== 'biasSplitGelu' && p !== 'biasAdd' && p !== 'nhwcConv'));
  let model = r.model;
  const report: Record<string, number> = { ...r.report };
  const step = (part: SdFusionPart, f: (x: ModelProto) => { model: ModelProto; report: { fused: unknown[] } }) => {
    if (!parts.includes(part)) return;
    const o = f(model);
    model = o.model;
    report[part] = o.report.fused.length;
  };
  step('biasSplitGelu', (x) => fuseBiasSplitGelu(x, file, 'any'));
  step('biasAdd', (x) => fuseBiasAdd(x, 'any'));
  step('nhwcConv', (x) => fuseNhwcConv(x, file));
  return { model, report };
};

async function check(file: string, hw: number, ctx: number, parts: SdFusionPart[], label: string) {
  const fused = anyWidth(parts)(readModel(file), file);
  const out = join(dir, label, 'model.onnx');
  const expanded = expand(fused.model);
  const left = expanded.graph!.node!.filter((n) => n.domain === 'com.microsoft' && n.opType !== 'MultiHeadAttention');
  expect(left.map((n) => n.opType)).toEqual([]);
  writeModel(out, expanded);
  linkExternalData(readModel(out), file, join(dir, label));
  return { report: fused.report, diff: maxAbsDiff(await unetOut(out, hw, ctx), await unetOut(file, hw, ctx)), model: fused.model };
}

const TINY = join(FIXTURE_MODEL, 'unet', 'model.onnx');
const EMOJI = join(__dirname, '../../assets/models/emoji-sd/unet/model.onnx');
const transposes = (m: ModelProto) => m.graph!.node!.filter((n) => n.opType === 'Transpose').length;

describe('SD fusions: the fused graphs, written back in standard ops, equal the unfused UNet on the CPU', () => {
  for (const part of SD_FUSION_PARTS) {
    it(`${part} alone (tiny-sd UNet)`, async () => {
      const r = await check(TINY, 8, 32, [part], part);
      expect(r.report[part]).toBeGreaterThan(0);
      expect(r.diff).toBeLessThan(1e-4);
    });
  }

  it('all parts together (tiny-sd): node counts per part, fewer transposes than the export', async () => {
    const r = await check(TINY, 8, 32, [...SD_FUSION_PARTS], 'all');
    expect(r.report).toEqual({ packedQkv: 22, groupNorm: 46, skipGroupNorm: 34, biasSplitGelu: 11, biasAdd: 11, nhwcConv: 72 });
    expect(transposes(r.model)).toBeLessThan(transposes(readModel(TINY)));
    expect(r.diff).toBeLessThan(1e-4);
  });

  it('all parts together on the tiny-sd VAE decoder (GroupNorm, SkipGroupNorm, NhwcConv)', async () => {
    const r = await check(join(FIXTURE_MODEL, 'vae_decoder', 'model.onnx'), 8, 0, [...SD_FUSION_PARTS], 'vae');
    expect(r.report).toMatchObject({ groupNorm: 21, skipGroupNorm: 6, nhwcConv: 27 });
    expect(r.diff).toBeLessThan(1e-4);
  });

  it('all parts together on the embedded emoji-sd UNet', async () => {
    const r = await check(EMOJI, 16, 128, [...SD_FUSION_PARTS], 'emoji');
    // its 32-channel norms (one channel a group) stay unfused: CUDA's GroupNorm cannot run them
    expect(r.report).toEqual({ packedQkv: 22, groupNorm: 30, skipGroupNorm: 22, biasSplitGelu: 11, biasAdd: 11, nhwcConv: 73 });
    expect(r.diff).toBeLessThan(1e-4);
  });
});

describe('NhwcConv: weights [M, kH, kW, C/group], transposes cancelled between NHWC ops', () => {
  it("the weight is the Conv's, transposed; no Transpose reads a Transpose it undoes", () => {
    const src = readModel(TINY), g0 = new OnnxGraph(src.graph!);
    const m = fuseSd(readModel(TINY), TINY, ['groupNorm', 'nhwcConv']).model, g = new OnnxGraph(m.graph!);
    const conv = g0.nodes.find((n) => n.name === '/m/down_blocks.0/resnets.0/conv1/Conv')!;
    const nc = g.nodes.find((n) => n.name === '/m/down_blocks.0/resnets.0/conv1/NhwcConv')!;
    const w0 = g0.weight(conv.input![1]!)!, w = g.weight(nc.input![1]!)!;
    const [M, C, kh, kw] = w0.dims!.map(Number) as [number, number, number, number];
    expect(w.dims!.map(Number)).toEqual([M, kh, kw, C]);
    const a = new Float32Array(new Uint8Array(w0.rawData!).slice().buffer), b = new Float32Array(new Uint8Array(w.rawData!).slice().buffer);
    expect(b[((1 * kh + 2) * kw + 0) * C + 3]).toBe(a[((1 * C + 3) * kh + 2) * kw + 0]);
    // the norm before conv1 (GroupNorm + SiLU, NHWC) feeds the NhwcConv directly
    expect(g.producer(nc.input![0]!)?.opType).toBe('GroupNorm');
    for (const t of g.nodes.filter((n) => n.opType === 'Transpose')) {
      const p = g.producer(t.input![0]!);
      if (p?.opType === 'Transpose') expect(attrInts(p, 'perm').map((_, i) => attrInts(p, 'perm')[attrInts(t, 'perm')[i]!])).not.toEqual([0, 1, 2, 3]);
    }
  });
});

describe('BiasAdd at an SD width (C = 320; the fixtures are narrower, so they keep their Adds)', () => {
  it('Add(Add(MatMul(GEGLU, W), b), skip) becomes one BiasAdd, equal to the unfused graph', async () => {
    const C = 320, H = 32, io = (name: string, dims: number[]) => ({ name, type: { tensorType: { elemType: FLOAT, shape: { dim: dims.map((d) => ({ dimValue: d })) } } } });
    const w = f32('W', Array.from({ length: H * C }, (_, i) => Math.sin(i) * 0.1));
    w.dims = [H, C];
    const ff = '/m/mid_block/attentions.0/transformer_blocks.0/ff';
    const model = {
      irVersion: 8, opsetImport: [{ domain: '', version: 17 }],
      graph: {
        name: 'ff',
        node: [
          { name: `${ff}/net.0/Mul_4`, opType: 'Mul', input: ['h', 'g'], output: ['geglu'] },
          { name: `${ff}/net.2/MatMul`, opType: 'MatMul', input: ['geglu', 'W'], output: ['proj'] },
          { name: `${ff}/net.2/Add`, opType: 'Add', input: ['b', 'proj'], output: ['biased'] },
          { name: '/m/mid_block/attentions.0/transformer_blocks.0/Add_2', opType: 'Add', input: ['biased', 'skip'], output: ['out'] },
        ],
        input: [io('h', [1, 4, H]), io('g', [1, 4, H]), io('skip', [1, 4, C])],
        output: [io('out', [1, 4, C])],
        initializer: [w, f32('b', Array.from({ length: C }, (_, i) => Math.cos(i)))],
      },
    } as unknown as ModelProto;
    const { model: fused, report } = fuseSd(model, '', ['biasAdd']);
    expect(report).toEqual({ biasAdd: 1 });
    expect(fused.graph!.node!.map((n) => n.opType)).toEqual(['Mul', 'MatMul', 'BiasAdd']);
    const run = async (m: ModelProto) => {
      const p = join(dir, `ff-${Math.random()}.onnx`);
      writeModel(p, m);
      const s = await ort.InferenceSession.create(p, { executionProviders: ['cpu'], logSeverityLevel: 4 });
      const feeds = Object.fromEntries([['h', H], ['g', H], ['skip', C]].map(([n, d], k) => [n, new ort.Tensor('float32', rnd(4 * Number(d), k), [1, 4, Number(d)])]));
      return (await s.run(feeds)).out!.data as Float32Array;
    };
    expect(maxAbsDiff(await run(expand(fused)), await run(model))).toBeLessThan(1e-5);
  });
});
