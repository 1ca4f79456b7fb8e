import { mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import type { onnx } from 'onnx-proto';
import { afterAll, describe, expect, it } from 'vitest';
import { Variant, type VariantInput } from '../../app/variant';
import type { PrepareContext } from '../../engine/accelerations/acceleration';
import { deepcache, locateBranch } from '../../engine/accelerations/deepcache';
import { fuseGraph, fusedAttention } from '../../engine/accelerations/fused-attention';
import { precision } from '../../engine/accelerations/precision';
import { Engine } from '../../engine/engine';
import { psnr } from '../support/psnr';
import { loadModel, PARTS } from '../../engine/model/model';
import { fuseAttention, isAttentionScope, scopeOf } from '../../engine/onnx/attention-fusion';
import { identityModel, readModel, writeModel, type ModelProto } from '../../engine/onnx/model-proto';
import { generate } from '../../engine/pipeline/generate';
import { externalizeGraph } from '../support/external-data';
import { FIXTURE_MODEL } from '../parity/reference';
import { castStoredWeights } from '../support/cast-stored-weights';
import onnxProto from 'onnx-proto';

const tmp = () => mkdtempSync(join(tmpdir(), 'fused-'));
const UNET = join(FIXTURE_MODEL, 'unet', 'model.onnx');
const cacheRoot = tmp();
const engine = new Engine(cacheRoot);
afterAll(() => engine.release());
const params = { prompt: 'a photo of an astronaut', negativePrompt: 'blurry', seed: 4, steps: 6, width: 96, height: 64 };
const run = (variant: VariantInput) => engine.run({ model: FIXTURE_MODEL, params, variant });
const ops = (m: ModelProto, op: string) => m.graph!.node!.filter((n) => n.opType === op);

async function unetOutput(path: string): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(path);
  const rnd = (n: number, k: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * k) * 1.5);
  const out = await s.run({
    sample: new ort.Tensor('float32', rnd(2 * 4 * 12 * 8, 0.37), [2, 4, 12, 8]),
    timestep: new ort.Tensor('float32', Float32Array.of(321.5), [1]),
    encoder_hidden_states: new ort.Tensor('float32', rnd(2 * 77 * 32, 0.11), [2, 77, 32]),
  });
  await s.release();
  return out.out_sample!.data as Float32Array;
}

describe('attention fusion on the fixture UNet', () => {
  const src = readModel(UNET);
  const { model, report } = fuseAttention(readModel(UNET));
  // attention blocks, counted independently of the matcher: attn1/attn2 modules of the export
  const blocks = [...new Set(src.graph!.node!.map(scopeOf).filter((s) => /\/attn[12]$/.test(s)))];

  it('one MultiHeadAttention per attention block (self and cross), none of the decomposed softmax left', () => {
    expect(blocks.length).toBe(22);
    expect(ops(model, 'MultiHeadAttention').length).toBe(blocks.length);
    expect(report.skipped).toEqual([]);
    expect(report.fused.filter((b) => b.kind === 'self').map((b) => b.scope)).toEqual(blocks.filter((s) => s.endsWith('attn1')));
    expect(report.fused.filter((b) => b.kind === 'cross').map((b) => b.scope)).toEqual(blocks.filter((s) => s.endsWith('attn2')));
    expect(ops(model, 'Softmax').filter((n) => isAttentionScope(scopeOf(n)))).toEqual([]);
    expect(model.opsetImport!.some((o) => o.domain === 'com.microsoft')).toBe(true);
  });

  it('heads and scale are the module\'s: 8 heads (attention_head_dim), scale exactly 1/√head_dim', () => {
    const inits = new Map(src.graph!.initializer!.map((t) => [t.name!, t]));
    for (const n of ops(model, 'MultiHeadAttention')) {
      const attr = (k: string) => n.attribute!.find((a) => a.name === k)!;
      const toQ = src.graph!.node!.find((m) => m.output![0] === n.input![0])!;
      const width = Number(inits.get(toQ.input![1]!)!.dims![1]);
      expect(Number(attr('num_heads').i)).toBe(8);
      expect(attr('scale').f).toBe(Math.fround(1 / Math.fround(Math.sqrt(width / 8))));
      expect(n.name).toBe(`${scopeOf(n)}/MultiHeadAttention`);
      // cross-attention reads its key/value projections from the text embedding
      const toK = src.graph!.node!.find((m) => m.output![0] === n.input![1])!;
      expect(toK.input![0] === 'encoder_hidden_states').toBe(scopeOf(n).endsWith('attn2'));
    }
  });

  it('leaves everything outside attention as exported (names, ops, wiring), so DeepCache finds the same cut', () => {
    const fused = new Map(model.graph!.node!.map((n) => [n.name!, n]));
    const inBlock = (name: string) => blocks.some((b) => name.startsWith(`${b}/`));
    const readers = (t: string) => src.graph!.node!.filter((m) => m.input!.includes(t));
    for (const n of src.graph!.node!.filter((x) => !inBlock(x.name!))) {
      // the exporter's unscoped constants (Unsqueeze axes) that fed only the attention internals go with them
      if (n.opType === 'Constant' && !fused.has(n.name!)) expect(readers(n.output![0]!).every((r) => inBlock(r.name!))).toBe(true);
      else expect([n.name, fused.get(n.name!)?.opType, fused.get(n.name!)?.input]).toEqual([n.name, n.opType, n.input]);
    }
    for (const branch of [0, 3, 5]) expect(locateBranch(model, branch, 'fused')).toEqual(locateBranch(src, branch, 'exported'));
  });

  it('computes the same UNet output (to float rounding)', async () => {
    const out = join(tmp(), 'model.onnx');
    writeModel(out, model);
    const [a, b] = [await unetOutput(UNET), await unetOutput(out)];
    expect(Math.max(...a.map((x, i) => Math.abs(x - b[i]!)))).toBeLessThan(1e-4);
  });

  it('finds the head size through weights stored in fp16 behind a Cast', () => {
    const { report: r } = fuseAttention(castStoredWeights(UNET));
    expect(r.fused.map((b) => [b.heads, b.scale])).toEqual(report.fused.map((b) => [b.heads, b.scale]));
  });

  it('the text encoder\'s causally masked attention is left alone, with the reason', () => {
    const te = fuseAttention(readModel(join(FIXTURE_MODEL, 'text_encoder', 'model.onnx')));
    expect(te.report.fused).toEqual([]);
    expect(te.report.skipped.length).toBe(3);
    expect(te.report.skipped[0]!.reason).toMatch(/Softmax reads Add .*masked or biased attention is not fused/);
  });
});

/** A hand-built cross-attention in another export style: constant head split, k transposed twice, scores ÷ 3. */
function syntheticAttention(mask: boolean): Uint8Array {
  const { onnx } = onnxProto;
  const f = (name: string, dims: number[], k: number) => ({ name, dims, dataType: 1, floatData: Array.from({ length: dims.reduce((a, b) => a * b) }, (_, i) => Math.cos(i * k) * 0.5) });
  const i64 = (name: string, v: number[]) => ({ name, dims: [v.length], dataType: 7, int64Data: v });
  const node = (op: string, name: string, input: string[], attrs: onnx.IAttributeProto[] = []) => ({ opType: op, name: `/blk/attn2/${name}`, input, output: [name], attribute: attrs });
  const perm = (p: number[]) => [{ name: 'perm', type: 7, ints: p }];
  const vi = (name: string, dims: (number | string)[]) => ({ name, type: { tensorType: { elemType: 1, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } } });
  const nodes = [
    node('MatMul', 'q', ['x', 'Wq']), node('MatMul', 'k', ['c', 'Wk']), node('MatMul', 'v', ['c', 'Wv']),
    node('Reshape', 'qh', ['q', 'heads']), node('Transpose', 'qt', ['qh'], perm([0, 2, 1, 3])),
    node('Reshape', 'kh', ['k', 'heads']), node('Transpose', 'kt1', ['kh'], perm([0, 2, 1, 3])), node('Transpose', 'kt', ['kt1'], perm([0, 1, 3, 2])),
    node('Reshape', 'vh', ['v', 'heads']), node('Transpose', 'vt', ['vh'], perm([0, 2, 1, 3])),
    node('MatMul', 's', ['qt', 'kt']), node('Div', 'sd', ['s', 'three']),
    ...(mask ? [node('Add', 'sm', ['sd', 'bias'])] : []),
    node('Softmax', 'p', [mask ? 'sm' : 'sd'], [{ name: 'axis', type: 2, i: -1 }]),
    node('MatMul', 'o', ['p', 'vt']), node('Transpose', 'ot', ['o'], perm([0, 2, 1, 3])), node('Reshape', 'or', ['ot', 'merge']),
    { ...node('MatMul', 'y', ['or', 'Wo']), name: '/blk/attn2/to_out.0/MatMul' },
  ];
  return onnx.ModelProto.encode({
    irVersion: 8, opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'attn', node: nodes,
      initializer: [f('Wq', [8, 8], 0.3), f('Wk', [6, 8], 0.7), f('Wv', [6, 8], 1.1), f('Wo', [8, 8], 1.3), i64('heads', [0, -1, 2, 4]), i64('merge', [0, -1, 8]), { name: 'three', dataType: 1, floatData: [3] }, ...(mask ? [f('bias', [1, 1, 5, 7], 0.9)] : [])],
      input: [vi('x', ['b', 5, 8]), vi('c', ['b', 7, 6])], output: [vi('y', ['b', 5, 8])],
    },
  }).finish();
}

describe('attention fusion, by structure', () => {
  it('another export style fuses too, with its own (non-default) scale, and computes the same', async () => {
    const bytes = syntheticAttention(false);
    const { model, report } = fuseAttention(onnxProto.onnx.ModelProto.decode(bytes));
    expect(report.fused).toEqual([{ scope: '/blk/attn2', kind: 'cross', heads: 2, scale: Math.fround(1 / 3) }]);
    const feeds = {
      x: new ort.Tensor('float32', Float32Array.from({ length: 2 * 5 * 8 }, (_, i) => Math.sin(i)), [2, 5, 8]),
      c: new ort.Tensor('float32', Float32Array.from({ length: 2 * 7 * 6 }, (_, i) => Math.cos(i * 0.3)), [2, 7, 6]),
    };
    const out = async (m: Uint8Array) => (await (await ort.InferenceSession.create(m)).run(feeds)).y!.data as Float32Array;
    const [a, b] = [await out(bytes), await out(onnxProto.onnx.ModelProto.encode(model).finish())];
    expect(Math.max(...a.map((x, i) => Math.abs(x - b[i]!)))).toBeLessThan(1e-5);
  });

  it('biased or masked attention is not fused, and says why', () => {
    const { report } = fuseAttention(onnxProto.onnx.ModelProto.decode(syntheticAttention(true)));
    expect(report.fused).toEqual([]);
    expect(report.skipped).toEqual([{ scope: '/blk/attn2', reason: expect.stringMatching(/Softmax reads Add \/blk\/attn2\/sm.*not fused/) }]);
  });

  it('a UNet with no fusable attention is an error naming the file and the reason, not a silent no-op', async () => {
    const variant = Variant.parse({ fusedAttention: true });
    const ctx = (unet: string): PrepareContext => ({ variant, modelDir: FIXTURE_MODEL, sessionOptions: {}, cacheDir: tmp(), graphs: { unet }, provider: 'cpu', fellBack: false, timings: {}, notes: {} });
    const plain = join(tmp(), 'model.onnx');
    writeModel(plain, onnxProto.onnx.ModelProto.decode(identityModel()));
    await expect(fusedAttention.prepare!(ctx(plain))).rejects.toThrow(`fusedAttention: no attention block of ${plain} matches the exported scaled-dot-product pattern (no Softmax in an attention scope)`);
    const te = join(FIXTURE_MODEL, 'text_encoder', 'model.onnx');
    await expect(fusedAttention.prepare!(ctx(te))).rejects.toThrow(/first unfused: \/m\/encoder\/layers\.0\/self_attn: Softmax reads Add/);
  });

  it('providers without a MultiHeadAttention kernel are refused up front', () => {
    expect(fusedAttention.validate!(Variant.parse({ fusedAttention: true, provider: 'coreml' }))).toMatch(/the coreml provider lacks/);
    expect(fusedAttention.validate!(Variant.parse({ fusedAttention: true, provider: 'cuda' }))).toBeUndefined();
  });

  it('a UNet with external-data weights: the fused graph finds them (hard link: ORT refuses symlinks out of its folder)', async () => {
    const ext = tmp();
    externalizeGraph(UNET, ext);
    const { path, report } = fuseGraph(join(ext, 'model.onnx'), tmp(), 'unet');
    expect(report.fused.length).toBe(22);
    const [a, b] = [await unetOutput(UNET), await unetOutput(path)];
    expect(Math.max(...a.map((x, i) => Math.abs(x - b[i]!)))).toBeLessThan(1e-4);
  });

  it('the fused graph is cached by the source graph\'s content', () => {
    const dir = tmp();
    const a = fuseGraph(UNET, dir, 'unet');
    const mtime = statSync(a.path).mtimeMs;
    const b = fuseGraph(UNET, dir, 'unet');
    expect(b.path).toBe(a.path);
    expect(statSync(b.path).mtimeMs).toBe(mtime);
    expect(b.report.fused.length).toBe(22);
  });
});

describe('fused attention in the engine', () => {
  it('gives the same image as the exported graph at fp32, and says how many blocks it fused', async () => {
    const base = await run({});
    const { result, images } = await run({ fusedAttention: true });
    expect(result.summary).toContain('fused attention (MultiHeadAttention): unet 22/22 (11 self, 11 cross), vae_decoder 1/1, vae_encoder 1/1 blocks');
    expect(psnr(base.images[0]!.data, images[0]!.data)).toBeGreaterThanOrEqual(40); // measured 122.8 dB
  });

  it('composes with DeepCache and fp16: DeepCache partitions the fused graph, every graph keeps fp32 I/O', async () => {
    const dc = { interval: 3, branch: 0 };
    const plain = await run({ deepcache: dc });
    const { result, images } = await run({ deepcache: dc, fusedAttention: true, precision: 'fp16' });
    expect(result.fullSteps).toEqual(plain.result.fullSteps);
    expect(result.fullSteps.length).toBeLessThan(result.timings.stepMs.length);
    expect(result.summary).toMatch(/fused attention .*DeepCache N=3 branch 0 uniform, fp16 weights, fp32 compute: text_encoder\+unet\+unet_shallow/);
    expect(psnr(plain.images[0]!.data, images[0]!.data)).toBeGreaterThan(60); // measured 72 dB
    // one partition was cut from the exported UNet, one from the fused one
    const root = join(cacheRoot, readdirSync(cacheRoot)[0]!);
    const cuts = readdirSync(root).filter((d) => d.startsWith('deepcache-b0')).map((d) => join(root, d, 'unet_shallow.onnx'));
    expect(cuts.map((p) => ops(readModel(p), 'MultiHeadAttention').length).sort()).toEqual([0, 2]);
  });

  it('for a provider with fp16 kernels the chain gives true fp16 partitions that still load and run', async () => {
    const variant = Variant.parse({ deepcache: { interval: 3, branch: 0 }, fusedAttention: true, precision: 'fp16' });
    const graphs = Object.fromEntries(PARTS.map((p) => [p, join(FIXTURE_MODEL, p, 'model.onnx')]));
    const ctx: PrepareContext = { variant, modelDir: FIXTURE_MODEL, sessionOptions: {}, cacheDir: tmp(), graphs, provider: 'cuda', fellBack: false, timings: {}, notes: {} };
    for (const a of [fusedAttention, deepcache, precision]) await a.prepare!(ctx);
    for (const part of ['unet', 'unet_shallow']) {
      const g = readModel(ctx.graphs[part]!).graph!;
      expect(g.initializer!.filter((t) => t.dataType === 1)).toEqual([]);
      expect([...g.input!, ...g.output!].every((v) => v.type!.tensorType!.elemType === 1)).toBe(true);
      expect(g.node!.some((n) => n.opType === 'MultiHeadAttention')).toBe(true);
    }
    const model = await loadModel(FIXTURE_MODEL, {}, ctx.graphs);
    try {
      const full = new Set<number>();
      const res = await generate(model, params, { loop: { wrap: (next, g) => deepcache.wrapDenoiser!(next, { ...g, variant, fullSteps: full }) } });
      const plain = await run({ deepcache: { interval: 3, branch: 0 } });
      expect([...full]).toEqual(plain.result.fullSteps);
      expect(psnr(plain.images[0]!.data, res.images[0]!.data)).toBeGreaterThan(50); // measured 63 dB
    } finally {
      await model.release();
    }
  });
});
