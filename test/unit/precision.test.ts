import { mkdirSync, mkdtempSync, readdirSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Float16Array } from '@petamoriken/float16';
import ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { Variant, type VariantInput } from '../../app/variant';
import type { PrepareContext } from '../../engine/accelerations/acceleration';
import { deepcache } from '../../engine/accelerations/deepcache';
import { plan, precision } from '../../engine/accelerations/precision';
import { validateVariant } from '../../engine/accelerations/registry';
import { Engine } from '../../engine/engine';
import { psnr } from '../support/psnr';
import { loadModel, PARTS } from '../../engine/model/model';
import { computesInHalf, convertToHalf, elemTypes, roundWeights, toHalfBits } from '../../engine/onnx/fp16';
import { BFLOAT16, FLOAT16, readFloats } from '../../engine/onnx/tensor-data';
import { readModel, writeModel, type ModelProto } from '../../engine/onnx/model-proto';
import type { onnx } from 'onnx-proto';
import { generate } from '../../engine/pipeline/generate';
import { externalizeGraph } from '../support/external-data';
import { FIXTURE_MODEL } from '../parity/reference';
import { castStoredWeights } from '../support/cast-stored-weights';
import { halfIoGraph } from '../support/half-io';
import { modelCopy } from '../support/model-variants';

const tmp = () => mkdtempSync(join(tmpdir(), 'precision-'));
const UNET = join(FIXTURE_MODEL, 'unet', 'model.onnx');
const engine = new Engine(tmp());
afterAll(() => engine.release());
const params = { prompt: 'a photo of an astronaut', negativePrompt: 'blurry', seed: 3, steps: 6, width: 96, height: 64 };
const run = (variant: VariantInput) => engine.run({ model: FIXTURE_MODEL, params, variant });

/** The prepare chain the engine runs, for a provider this machine lacks (the graphs still open on the CPU). */
async function prepareFor(v: VariantInput, provider: string, cacheDir = tmp(), modelDir = FIXTURE_MODEL): Promise<PrepareContext> {
  const variant = Variant.parse(v);
  const graphs = Object.fromEntries(PARTS.map((p) => [p, join(modelDir, p, 'model.onnx')]));
  const ctx: PrepareContext = { variant, modelDir, sessionOptions: {}, cacheDir, graphs, provider, fellBack: false, timings: {}, notes: {} };
  if (variant.deepcache) await deepcache.prepare!(ctx);
  await precision.prepare!(ctx);
  return ctx;
}

describe('fp16 conversion of an ONNX graph', () => {
  const dir = tmp();
  const half = join(dir, 'unet.onnx');
  const stats = convertToHalf(readModel(UNET), UNET, half);
  const src = readModel(UNET).graph!, g = readModel(half).graph!;

  it('every weight becomes float16; inputs and outputs stay float32', () => {
    expect(stats.halfInitializers).toBe(src.initializer!.length);
    expect(g.initializer!.every((t) => t.dataType === FLOAT16)).toBe(true);
    expect(g.input!.map((i) => i.type!.tensorType!.elemType)).toEqual([1, 1, 1]);
    expect(g.output!.map((o) => [o.name, o.type!.tensorType!.elemType])).toEqual([['out_sample', 1]]);
    // values are the fp32 weights rounded to nearest fp16
    const w = src.initializer!.find((t) => t.name!.endsWith('conv_in.weight'))!;
    const h = g.initializer!.find((t) => t.name === w.name)!;
    expect(Array.from(readFloats(h, half))).toEqual(Array.from(Float16Array.from(readFloats(w, UNET))));
  });

  it('keeps every node (names included) and adds only Casts', () => {
    const names = new Set(g.node!.map((n) => n.name));
    expect(src.node!.filter((n) => !names.has(n.name)).map((n) => n.name)).toEqual([]);
    const added = g.node!.filter((n) => !src.node!.some((m) => m.name === n.name));
    expect(added.length).toBe(stats.castsAdded);
    expect(added.every((n) => n.opType === 'Cast')).toBe(true);
  });

  it('runs the ops half precision would spoil in fp32: the time projection, Resize, Sin/Cos', () => {
    const types = elemTypes(g);
    const fp32 = (op: string | RegExp) => g.node!.filter((n) => (typeof op === 'string' ? n.opType === op : op.test(n.name!)));
    for (const n of [...fp32('Resize'), ...fp32('Sin'), ...fp32('Cos'), ...fp32(/\/time_proj\//)]) {
      for (const o of n.output!) if (types.get(o) === 1 || types.get(o) === FLOAT16) expect([n.name, types.get(o)]).toEqual([n.name, 1]);
    }
    // and the heavy ops are half
    for (const n of g.node!.filter((x) => x.opType === 'Conv' || x.opType === 'MatMul')) expect(types.get(n.output![0]!)).toBe(FLOAT16);
  });

  it('fixes value_info types of tensors that became half', () => {
    const m = readModel(UNET);
    const conv = m.graph!.node!.find((n) => n.opType === 'Conv')!.output![0]!;
    m.graph!.valueInfo = [{ name: conv, type: { tensorType: { elemType: 1 } } }, { name: 'sample', type: { tensorType: { elemType: 1 } } }];
    const out = join(tmp(), 'vi.onnx');
    convertToHalf(m, UNET, out);
    expect(readModel(out).graph!.valueInfo!.map((v) => [v.name, v.type!.tensorType!.elemType])).toEqual([[conv, FLOAT16], ['sample', 1]]);
  });

  it('reads external-data weights and writes its half weights as external data', async () => {
    // the fixture UNet with every weight moved to model.onnx_data, as big exports store them
    const ext = tmp();
    externalizeGraph(UNET, ext);
    const out = join(tmp(), 'model.onnx');
    convertToHalf(readModel(join(ext, 'model.onnx')), join(ext, 'model.onnx'), out);
    const converted = readModel(out).graph!.initializer!;
    expect(converted.every((t) => t.dataLocation === 1 && t.externalData!.some((e) => e.value === 'model.onnx.data'))).toBe(true);
    expect(statSync(`${out}.data`).size).toBe(statSync(join(ext, 'model.onnx_data')).size / 2);
    const feeds = {
      sample: new ort.Tensor('float32', new Float32Array(2 * 4 * 8 * 8).fill(0.3), [2, 4, 8, 8]),
      timestep: new ort.Tensor('float32', Float32Array.of(500), [1]),
      encoder_hidden_states: new ort.Tensor('float32', new Float32Array(2 * 77 * 32).fill(0.1), [2, 77, 32]),
    };
    const outputOf = async (p: string) => ((await (await ort.InferenceSession.create(p)).run(feeds)).out_sample!.data as Float32Array);
    expect(Array.from(await outputOf(out))).toEqual(Array.from(await outputOf(half)));
  });

  it('refuses a missing external-data file by name', () => {
    const m = readModel(UNET);
    const t = m.graph!.initializer!.find((x) => x.rawData?.length)!;
    t.dataLocation = 1;
    t.externalData = [{ key: 'location', value: 'weights.bin' }];
    const dirX = tmp();
    expect(() => convertToHalf(m, join(dirX, 'model.onnx'), join(dirX, 'out.onnx'))).toThrow(`initializer ${t.name} lives in ${join(dirX, 'weights.bin')}, which cannot be read`);
  });

  it('saturates out-of-range values instead of making inf; bf16 rounds to nearest even', () => {
    const bits = toHalfBits(Float32Array.of(1e5, -1e6, 1e-9, 0, Infinity, 1 / 3), FLOAT16);
    expect(Array.from(new Float16Array(bits.buffer))).toEqual([65504, -65504, 5.960464477539063e-8, 0, Infinity, 0.333251953125]);
    const bf = toHalfBits(Float32Array.of(1 + 2 ** -8, 1 + 3 * 2 ** -8, 1 / 3, NaN), BFLOAT16);
    expect(Array.from(bf, (b) => b.toString(16))).toEqual(['3f80', '3f82', '3eab', '7fc0']);
  });
});

describe('fp32 compute with fp16-rounded weights', () => {
  it('rounds every fp32 weight to its fp16 value and changes nothing else', () => {
    const out = join(tmp(), 'model.onnx');
    roundWeights(readModel(UNET), UNET, out);
    const a = readModel(UNET).graph!, b = readModel(out).graph!;
    expect(b.node).toEqual(a.node);
    for (const [i, t] of b.initializer!.entries()) {
      expect(t.dataType).toBe(1);
      const v = readFloats(t, out);
      expect(Array.from(v)).toEqual(Array.from(Float16Array.from(readFloats(a.initializer![i]!, UNET))));
    }
  });

  it('tells a half graph from an fp32 graph that only stores its weights in fp16', () => {
    const half = join(tmp(), 'model.onnx');
    convertToHalf(readModel(UNET), UNET, half);
    expect(computesInHalf(readModel(UNET))).toBe(false);
    expect(computesInHalf(readModel(half))).toBe(true);
    expect(computesInHalf(castStoredWeights(UNET))).toBe(false);
  });

  it('recognises an fp16 export whose weights reach ops through Casts to half, and one with half outputs', async () => {
    const folder = modelCopy(FIXTURE_MODEL);
    const te = join(folder, 'text_encoder', 'model.onnx');
    convertToHalf(readModel(te), te, te);
    // TorchScript's type promotion: every half weight read through Cast(to fp16)
    const m = readModel(te), g = m.graph!;
    const halfWeights = new Set(g.initializer!.filter((t) => t.dataType === FLOAT16).map((t) => t.name!));
    for (const n of g.node!) n.input = n.input!.map((x) => (halfWeights.has(x) ? `${x}/as_fp16` : x));
    g.node = [...[...halfWeights].map((x) => ({ name: `${x}/as_fp16`, opType: 'Cast', input: [x], output: [`${x}/as_fp16`], attribute: [{ name: 'to', type: 2, i: FLOAT16 }] })), ...g.node!];
    expect(computesInHalf(m)).toBe(true);
    writeModel(te, m);
    // a graph that hands back fp16 (diffusers' fp16 text encoders: token-id inputs, fp16 last_hidden_state)
    const halfOut = readModel(UNET);
    halfOut.graph!.output![0]!.type!.tensorType!.elemType = FLOAT16;
    expect(computesInHalf(halfOut)).toBe(true);
    halfIoGraph(join(folder, 'unet', 'model.onnx'));
    const ctx = await prepareFor({ precision: 'fp16' }, 'cuda', tmp(), folder);
    // the half-I/O UNet gets Casts at its I/O on CUDA (test/unit/float-io.test.ts); the text encoder's I/O is fp32
    expect(ctx.graphs.text_encoder).toBe(te);
    expect(ctx.graphs.unet).not.toBe(join(folder, 'unet', 'model.onnx'));
    expect(ctx.notes.precision).toContain('fp16 as stored: text_encoder;');
    expect(ctx.notes.precision).toContain('fp16 as stored, I/O cast to fp32 on the device: unet');
  });
});

describe('precision as an acceleration', () => {
  it('plans by provider and stored precision', () => {
    expect(plan('fp32', false, 'cpu')).toBe('as-is');
    expect(plan('fp32', true, 'cuda')).toBe('upcast');
    expect(plan('fp16', false, 'cuda')).toBe('half');
    expect(plan('fp16', true, 'cuda')).toBe('as-is');
    expect(plan('fp16', false, 'cpu')).toBe('half-weights');
    expect(plan('fp16', true, 'cpu')).toBe('upcast');
  });

  it('bf16 is refused with the reason, before anything runs', () => {
    expect(() => validateVariant(Variant.parse({ precision: 'bf16' }))).toThrow(/bf16 needs a provider with bf16 kernels for every UNet op.*use fp16/);
  });

  it('on the CPU: fp16-rounded weights in an fp32 graph; the image stays close to fp32 and the summary says so', async () => {
    const base = await run({});
    const { result, images } = await run({ precision: 'fp16' });
    expect(result.summary).toContain('fp16 weights, fp32 compute: text_encoder+unet (cpu has no fp16 kernels)');
    expect(result.summary).toContain('fp32 vae_decoder+vae_encoder (config force_upcast)');
    const db = psnr(base.images[0]!.data, images[0]!.data);
    expect(db).toBeGreaterThan(60); // measured 76.6 dB (6 DDIM steps, 96×64)
    expect(db).toBeLessThan(200); // but it did change something
  });

  it('for a provider with fp16 kernels: a true fp16 graph, cached; it loads and runs in ORT (CPU) close to fp32', async () => {
    const cache = tmp();
    const ctx = await prepareFor({ precision: 'fp16' }, 'cuda', cache);
    const unet = readModel(ctx.graphs.unet!).graph!;
    expect(unet.initializer!.every((t) => t.dataType === FLOAT16)).toBe(true);
    expect(ctx.graphs.vae_decoder).toBe(join(FIXTURE_MODEL, 'vae_decoder', 'model.onnx')); // force_upcast
    const mtime = statSync(ctx.graphs.unet!).mtimeMs;
    const again = await prepareFor({ precision: 'fp16' }, 'cuda', cache);
    expect(again.graphs.unet).toBe(ctx.graphs.unet);
    expect(statSync(again.graphs.unet!).mtimeMs).toBe(mtime);
    const model = await loadModel(FIXTURE_MODEL, {}, ctx.graphs);
    try {
      const half = await generate(model, params);
      const base = await run({});
      const db = psnr(base.images[0]!.data, half.images[0]!.data);
      expect(db).toBeGreaterThan(50); // fp16 weights and activations: measured 65.5 dB
    } finally {
      await model.release();
    }
  });

  it('an fp16 model folder: fp32 upcasts it (exactly), fp16 on a half provider uses it as stored', async () => {
    const folder = tmp();
    const halfParts = ['text_encoder', 'unet'];
    for (const e of readdirSync(FIXTURE_MODEL)) if (!halfParts.includes(e)) symlinkSync(join(FIXTURE_MODEL, e), join(folder, e));
    for (const p of halfParts) {
      mkdirSync(join(folder, p));
      symlinkSync(join(FIXTURE_MODEL, p, 'config.json'), join(folder, p, 'config.json'));
      const src = join(FIXTURE_MODEL, p, 'model.onnx');
      convertToHalf(readModel(src), src, join(folder, p, 'model.onnx'));
    }
    const fromFolder = await engine.run({ model: folder, params, variant: { precision: 'fp32' } });
    expect(fromFolder.result.summary).toContain('fp16 weights upcast to fp32: text_encoder+unet');
    const rounded = await run({ precision: 'fp16' });
    // the same fp16 weights, fp32 compute (the folder's converter also rounded a few float constants)
    expect(psnr(fromFolder.images[0]!.data, rounded.images[0]!.data)).toBeGreaterThan(90); // measured 102 dB
    const asStored = await prepareFor({ precision: 'fp16' }, 'cuda', tmp(), folder);
    expect(asStored.graphs.unet).toBe(join(folder, 'unet', 'model.onnx'));
  });
});
