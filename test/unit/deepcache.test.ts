import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { Variant } from '../../app/variant';
import { deepcache, fullSteps, locateBranch, nonUniform, partitionUnet } from '../../engine/accelerations/deepcache';
import { Engine } from '../../engine/engine';
import { psnr } from '../support/psnr';
import { loadModel, type LoadedModel } from '../../engine/model/model';
import { readModel, writeModel } from '../../engine/onnx/model-proto';
import type { Denoiser } from '../../engine/pipeline/denoiser';
import { generate } from '../../engine/pipeline/generate';
import { FIXTURE_MODEL } from '../parity/reference';
import { modelCopy, plusInput } from '../support/model-variants';
import { halfIoUnetFolder } from '../support/half-io';
import { FLOAT16 } from '../../engine/onnx/tensor-data';

const engine = new Engine(mkdtempSync(join(tmpdir(), 'dc-cache-')));
afterAll(() => engine.release());
const UNET = join(FIXTURE_MODEL, 'unet', 'model.onnx');
const params = { prompt: 'a photo of an astronaut', negativePrompt: 'blurry', seed: 5, steps: 9, width: 96, height: 64 };
const run = (variant: object, p: object = {}) => engine.run({ model: FIXTURE_MODEL, params: { ...params, ...p }, variant });

describe('DeepCache by graph partitioning', () => {
  it('the shallow graph keeps only conv_in, the outer down/up layers and conv_out (branch 0)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dc-'));
    const { full, shallow } = partitionUnet(UNET, 0, dir);
    const names = (p: string) => readModel(p).graph!.node!.map((n) => n.name!);
    // layers are where the work is: the exporter shares a few cheap nodes (SiLU of the time embedding,
    // shape arithmetic) across scopes under the first scope's name, so count weight-bearing nodes
    const layers = (p: string) => readModel(p).graph!.node!.filter((n) => ['Conv', 'MatMul', 'Gemm'].includes(n.opType!)).map((n) => n.name!);
    const s = layers(shallow);
    expect(s.some((n) => n.includes('/conv_in/'))).toBe(true);
    expect(s.some((n) => n.includes('/conv_out/'))).toBe(true);
    expect(s.some((n) => n.includes('/up_blocks.2/resnets.2/'))).toBe(true);
    for (const gone of ['/mid_block/', '/down_blocks.0/', '/down_blocks.1/', '/up_blocks.0/', '/up_blocks.1/', '/up_blocks.2/resnets.1/']) {
      expect(s.filter((n) => n.includes(gone))).toEqual([]);
    }
    expect(s.length).toBeLessThan(layers(UNET).length / 4);
    expect(names(shallow).length).toBeLessThan(names(UNET).length / 4);
    expect(readModel(full).graph!.output!.map((o) => o.name)).toEqual(['out_sample', 'deepcache_feature']);
    expect(readModel(shallow).graph!.input!.map((o) => o.name)).toEqual(['sample', 'timestep', 'encoder_hidden_states', 'deepcache_feature']);
  });

  it('a deeper branch keeps more of the down path (branch 3: all of down block 0)', () => {
    const { shallow } = partitionUnet(UNET, 3, mkdtempSync(join(tmpdir(), 'dc-')));
    const s = readModel(shallow).graph!.node!.filter((n) => ['Conv', 'MatMul', 'Gemm'].includes(n.opType!)).map((n) => n.name!);
    expect(s.some((n) => n.includes('/down_blocks.0/downsamplers.0/'))).toBe(true);
    expect(s.some((n) => n.includes('/up_blocks.1/resnets.2/'))).toBe(true);
    expect(s.filter((n) => n.includes('/down_blocks.1/') || n.includes('/mid_block/'))).toEqual([]);
  });

  it('names what is missing when the UNet cannot be partitioned', () => {
    const m = readModel(UNET);
    for (const n of m.graph!.node!) n.name = `node_${n.name!.length}`;
    const path = join(mkdtempSync(join(tmpdir(), 'dc-')), 'model.onnx');
    writeModel(path, m);
    expect(() => locateBranch(readModel(path), 0, path)).toThrow('no nodes named .../up_blocks.N/... — DeepCache needs module-path node names');
    expect(() => locateBranch(readModel(UNET), 9, UNET)).toThrow('branch 9 needs up block 3 from the outside, but this UNet has 3 up blocks (use a branch < 9)');
  });

  it('schedules: uniform follows the reference (first-occurrence index), explicit lists, the paper\'s non-uniform', () => {
    const ts = [900, 800, 700, 600, 500, 400, 300, 200, 100];
    expect([...fullSteps({ interval: 3, branch: 0, schedule: 'uniform' }, ts, ts)]).toEqual([0, 3, 6]);
    expect([...fullSteps({ interval: 3, branch: 0, schedule: 'uniform' }, ts.slice(2), ts)]).toEqual([0, 3, 6]);
    // PNDM repeats a timestep: the reference indexes it by its first occurrence
    expect([...fullSteps({ interval: 2, branch: 0, schedule: 'uniform' }, [900, 800, 800, 700, 600], [900, 800, 800, 700, 600])]).toEqual([0, 4]);
    expect([...fullSteps({ interval: 3, branch: 0, schedule: [0, 1, 5] }, ts, ts)]).toEqual([0, 1, 5]);
    expect(() => fullSteps({ interval: 3, branch: 0, schedule: [1, 5] }, ts, ts)).toThrow('must include step 0');
    expect(() => fullSteps({ interval: 3, branch: 0, schedule: [0, 12] }, ts, ts)).toThrow('lists step 12, but the run has 9 steps');
    const nu = nonUniform(50, 5);
    expect(nu).toHaveLength(10);
    expect(nu[0]).toBe(0);
    expect([...nu].sort((a, b) => a - b)).toEqual(nu);
    // denser around the centre (step 15) than at the end
    expect(nu.filter((s) => s >= 10 && s < 25).length).toBeGreaterThan(nu.filter((s) => s >= 35).length);
  });

  it('window: (0, 0) or absent is today\'s schedule; steps inside the window run the full UNet; bad windows are refused', () => {
    const ts = Array.from({ length: 20 }, (_, i) => 950 - 50 * i);
    for (const schedule of ['uniform', 'nonuniform', [0, 7, 13]] as const) for (const interval of [1, 2, 3, 5]) {
      const o = { interval, branch: 0, schedule: schedule as never };
      expect([...fullSteps({ ...o, start: 0, end: 0 }, ts, ts)]).toEqual([...fullSteps(o, ts, ts)]);
      const w = fullSteps({ ...o, start: 0.2, end: 0.1 }, ts, ts);
      // the first round(0.2·20) = 4 and last round(0.1·20) = 2 steps are full; in between the schedule as it was
      for (const i of [0, 1, 2, 3, 18, 19]) expect(w.has(i)).toBe(true);
      for (let i = 4; i < 18; i++) expect([i, w.has(i)]).toEqual([i, fullSteps(o, ts, ts).has(i)]);
    }
    expect([...fullSteps({ interval: 4, branch: 0, schedule: 'uniform', start: 0.25, end: 0.25 }, ts.slice(0, 8), ts.slice(0, 8))].sort((a, b) => a - b)).toEqual([0, 1, 4, 6, 7]);
    expect(Variant.safeParse({ deepcache: { interval: 3, branch: 0, start: 0.6, end: 0.5 } }).error?.message).toContain('deepcache.start + deepcache.end must be < 1');
    expect(Variant.safeParse({ deepcache: { interval: 3, branch: 0, start: -0.1 } }).error?.message).toContain('deepcache.start must be >= 0');
    expect(Variant.safeParse({ deepcache: { interval: 3, branch: 0, end: 0.95 } }).error?.message).toContain('deepcache.end must be <= 0.9');
  });

  it('a window runs its steps in full in the engine too', async () => {
    const r = await run({ deepcache: { interval: 3, branch: 0, start: 0.2, end: 0.2 } }, { scheduler: 'ddim' });
    // 9 steps: the first and last round(1.8) = 2 full, uniform N=3 ([0, 3, 6]) in between
    expect(r.result.fullSteps).toEqual([0, 1, 3, 6, 7, 8]);
    expect(r.result.summary).toContain('DeepCache N=3 branch 0 uniform, full first 20% last 20%');
  });

  it('interval 1 equals the plain run exactly, for every scheduler and for img2img', async () => {
    for (const scheduler of ['pndm', 'ddim', 'euler', 'euler-a', 'dpmpp-2m', 'lcm']) {
      const plain = await run({}, { scheduler });
      const dc = await run({ deepcache: { interval: 1, branch: 0 } }, { scheduler });
      expect([scheduler, dc.images[0]!.data]).toEqual([scheduler, plain.images[0]!.data]);
    }
  });

  it('interval 3 skips the deep layers on cached steps: fewer full steps, a close but different image', async () => {
    const plain = await run({}, { scheduler: 'ddim' });
    const dc = await run({ deepcache: { interval: 3, branch: 0 } }, { scheduler: 'ddim' });
    expect(dc.result.fullSteps).toEqual([0, 3, 6]);
    expect(plain.result.fullSteps).toHaveLength(9);
    const p = psnr(dc.images[0]!.data, plain.images[0]!.data);
    expect(p).toBeGreaterThan(20);
    expect(p).toBeLessThan(80);
  });

  it('opens the shallow graph without intra-op spinning (its workers would spin into the full step), the full UNet and the other graphs as before', async () => {
    const open = vi.spyOn(ort.InferenceSession, 'create');
    const fresh = new Engine(mkdtempSync(join(tmpdir(), 'dc-spin-')));
    // the suite turns spinning off for every graph (vitest.config.ts); here onnxruntime's default is under test
    const suite = process.env.STUDIO_ORT_SPINNING;
    delete process.env.STUDIO_ORT_SPINNING;
    try {
      // twice over one cache: the first run writes the compiled graphs, the second loads them
      for (const optLevel of ['all', 'all'] as const) {
        await fresh.run({ model: FIXTURE_MODEL, params: { ...params, steps: 2 }, variant: { deepcache: { interval: 2, branch: 0 }, optLevel } });
        await fresh.release();
      }
      const spin = (re: RegExp) => open.mock.calls.filter(([p]) => re.test(String(p))).map(([, o]) => (o as ort.InferenceSession.SessionOptions).extra?.['session.intra_op.allow_spinning']);
      expect(spin(/unet_shallow/)).toEqual(['0', '0']);
      expect(spin(/unet(_full|-)/)).toEqual([undefined, undefined]);
      expect(spin(/text_encoder|vae_/)).toEqual(Array(6).fill(undefined));
    } finally {
      if (suite !== undefined) process.env.STUDIO_ORT_SPINNING = suite;
      open.mockRestore();
      await fresh.release();
    }
  });

  it('composes with CFG truncation (the cached feature keeps its conditional half)', async () => {
    const r = await run({ deepcache: { interval: 2, branch: 3 }, cfgTruncation: 0.5 }, { scheduler: 'euler' });
    expect(r.result.fullSteps).toEqual([0, 2, 4, 6, 8]);
    expect(r.images[0]!.data.some((v) => v > 0)).toBe(true);
  });
});

describe('CFG truncation', () => {
  it('1 equals the plain run; 0.5 changes the image and halves the late UNet batches', async () => {
    const plain = await run({}, { scheduler: 'ddim' });
    expect((await run({ cfgTruncation: 1 }, { scheduler: 'ddim' })).images[0]!.data).toEqual(plain.images[0]!.data);
    const half = await run({ cfgTruncation: 0.5 }, { scheduler: 'ddim' });
    expect(half.images[0]!.data).not.toEqual(plain.images[0]!.data);
    expect(half.result.summary).toContain('CFG truncated after 50% of steps');
  });
});

describe('compile (graph optimisation level, optimised graphs cached)', () => {
  it('a second engine loads the cached optimised graphs and gives the same image', async () => {
    const cache = mkdtempSync(join(tmpdir(), 'compile-'));
    const first = new Engine(cache), second = new Engine(cache);
    try {
      const a = await first.run({ model: FIXTURE_MODEL, params: { ...params, steps: 3 }, variant: { optLevel: 'extended' } });
      const b = await second.run({ model: FIXTURE_MODEL, params: { ...params, steps: 3 }, variant: { optLevel: 'extended' } });
      expect(a.result.prepareSteps['compile.cachedGraphs']).toBe(0);
      expect(b.result.prepareSteps['compile.cachedGraphs']).toBe(4);
      expect(b.images[0]!.data).toEqual(a.images[0]!.data);
    } finally {
      await first.release();
      await second.release();
    }
  });
});

describe('models whose UNet weights are external data (model.onnx_data)', () => {
  it('DeepCache and LoRA derive graphs that still find the weights', async () => {
    const { withExternalUnet } = await import('../support/external-data');
    const model = withExternalUnet(FIXTURE_MODEL);
    const p = { ...params, steps: 3, scheduler: 'ddim' };
    const plain = await engine.run({ model, params: p, variant: {} });
    const ref = await engine.run({ model: FIXTURE_MODEL, params: p, variant: {} });
    expect(plain.images[0]!.data).toEqual(ref.images[0]!.data);
    const dc = await engine.run({ model, params: p, variant: { deepcache: { interval: 1, branch: 0 } } });
    expect(dc.images[0]!.data).toEqual(plain.images[0]!.data);
    const lora = join(FIXTURE_MODEL, '..', 'loras', 'tiny-lora-kohya.safetensors');
    const a = await engine.run({ model, params: p, variant: { loras: [{ path: lora, weight: 0.8 }] } });
    const b = await engine.run({ model: FIXTURE_MODEL, params: p, variant: { loras: [{ path: lora, weight: 0.8 }] } });
    expect(psnr(a.images[0]!.data, b.images[0]!.data)).toBeGreaterThan(80);
  });
});

describe('DeepCache through the Denoiser seam', () => {
  it('composes with another wrapper that adds a feed, on a UNet with one more input', async () => {
    const variant = Variant.parse({ deepcache: { interval: 3, branch: 0 } });
    const open = async (dir: string) => {
      const ctx = { variant, modelDir: dir, sessionOptions: {}, cacheDir: mkdtempSync(join(tmpdir(), 'dc-seam-')), graphs: { unet: join(dir, 'unet', 'model.onnx') }, provider: 'cpu', fellBack: false, timings: {}, notes: {} };
      await deepcache.prepare!(ctx);
      return loadModel(dir, {}, ctx.graphs);
    };
    const plain = await open(FIXTURE_MODEL);
    const extra = await open(modelCopy(FIXTURE_MODEL, { graphs: { unet: plusInput('bias') } }));
    try {
      const calls: string[] = [];
      // outside DeepCache: a wrapper feeding the extra input (as ControlNet residuals or SDXL's time ids would be)
      const withBias = (value: number, next: Denoiser): Denoiser => (step, t, sample, feeds, route) =>
        next(step, t, sample, { ...feeds, bias: { data: new Float32Array(sample.data.length).fill(value), dims: sample.dims } }, route);
      // inside: records what reaches the graphs
      const record = (next: Denoiser): Denoiser => (step, t, sample, feeds, route) => {
        calls.push(`${step}:${route?.graph ?? 'unet'}:${Object.keys(feeds).sort().join('+')}`);
        return next(step, t, sample, feeds, route);
      };
      const p = { ...params, steps: 4, scheduler: 'ddim' as const };
      const run = (model: LoadedModel, wrap: (d: Denoiser) => Denoiser) =>
        generate(model, p, { loop: { wrap: (next, info) => wrap(deepcache.wrapDenoiser!(record(next), { ...info, variant, fullSteps: new Set() })) } });
      const ref = await run(plain, (d) => d);
      calls.length = 0;
      const zero = await run(extra, (d) => withBias(0, d));
      expect(calls).toEqual([
        '0:unet:bias+encoder_hidden_states', '1:unet_shallow:bias+deepcache_feature+encoder_hidden_states',
        '2:unet_shallow:bias+deepcache_feature+encoder_hidden_states', '3:unet:bias+encoder_hidden_states',
      ]);
      expect(zero.images[0]!.data).toEqual(ref.images[0]!.data);
      const shifted = await run(extra, (d) => withBias(0.05, d));
      expect(shifted.images[0]!.data).not.toEqual(ref.images[0]!.data);
      // without the wrapper the extra input is missing, and the error says so
      await expect(run(extra, (d) => d)).rejects.toThrow('input "bias" was not fed');
    } finally {
      await plain.release();
      await extra.release();
    }
  });
});

describe('DeepCache on a UNet stored, computing and fed in fp16', () => {
  it('declares the cached feature fp16; interval 1 equals the plain run, interval 3 runs the shallow graph', async () => {
    const dir = halfIoUnetFolder(FIXTURE_MODEL);
    const open = async (variant: Variant) => {
      const ctx = { variant, modelDir: dir, sessionOptions: {}, cacheDir: mkdtempSync(join(tmpdir(), 'dc-half-')), graphs: { unet: join(dir, 'unet', 'model.onnx') } as Record<string, string>, provider: 'cuda', fellBack: false, timings: {}, notes: {} };
      if (variant.deepcache) await deepcache.prepare!(ctx);
      return { graphs: ctx.graphs, model: await loadModel(dir, {}, ctx.graphs) };
    };
    const p = { ...params, steps: 6, scheduler: 'ddim' as const };
    const runWith = async (v: object) => {
      const variant = Variant.parse(v);
      const { graphs, model } = await open(variant);
      try {
        const fullSteps = new Set<number>();
        const wrap = variant.deepcache ? (next: Denoiser, info: { timesteps: readonly number[]; allTimesteps: readonly number[] }) => deepcache.wrapDenoiser!(next, { ...info, variant, fullSteps }) : undefined;
        return { graphs, fullSteps, image: (await generate(model, p, { loop: { wrap } })).images[0]!.data };
      } finally {
        await model.release();
      }
    };
    const plain = await runWith({});
    const one = await runWith({ deepcache: { interval: 1, branch: 0 } });
    const elemType = (vs: { name?: string | null; type?: { tensorType?: { elemType?: number | null } | null } | null }[] | null | undefined) => vs!.find((v) => v.name === 'deepcache_feature')!.type!.tensorType!.elemType;
    expect(elemType(readModel(one.graphs.unet!).graph!.output)).toBe(FLOAT16);
    expect(elemType(readModel(one.graphs.unet_shallow!).graph!.input)).toBe(FLOAT16);
    expect(one.image).toEqual(plain.image);
    const three = await runWith({ deepcache: { interval: 3, branch: 0 } });
    expect([...three.fullSteps]).toEqual([0, 3]);
    const db = psnr(three.image, plain.image);
    expect(db).toBeGreaterThan(20);
    expect(db).toBeLessThan(80);
  });
});
