import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SD_FUSION_PARTS } from '../../app/accelerations/sd-fusions';
import type { RunEvent } from '../../app/contract';
import { FP16_BROKEN, KERNELS, sdFusions } from '../../engine/accelerations/sd-fusions';
import { Variant } from '../../app/variant';
import { Engine } from '../../engine/engine';
import { configs, deepcacheRow, type RowResult } from '../../bench/gpu/engine-bench';
import { overheadSplit } from '../../bench/gpu/overhead';
import { buildReport, FUSION_PSNR_MIN_DB, type TorchResult } from '../../bench/gpu/report';
import { loadModel } from '../../engine/model/model';
import { generate } from '../../engine/pipeline/generate';
import { FIXTURE_MODEL } from '../parity/reference';
import { halfIoUnetFolder } from '../support/half-io';
import { tempDirs } from '../support/temp-dirs';

const tmp = tempDirs('bench-gpu-');

describe('the overhead split of a run', () => {
  it('adds up to the run\'s overhead, its steps part being the steps\' time outside session.run', async () => {
    const engine = new Engine(tmp(), 1);
    const events: RunEvent[] = [];
    const params = { prompt: 'a cat', negativePrompt: 'blurry', seed: 3, steps: 4, width: 64, height: 64, scheduler: 'ddim' };
    const { result } = await engine.run({ model: FIXTURE_MODEL, params, variant: {} }, { onEvent: (e) => events.push(e) });
    await engine.release();
    const t = result.timings, s = overheadSplit(t, events);
    const parts = s.stepsMs + s.loopMs + s.textEncoderMs + s.vaeEncoderMs + s.vaeDecoderMs + s.restMs;
    expect(parts).toBeCloseTo(t.overheadMs, 6);
    expect(s.stepsMs).toBeCloseTo(t.stepMs.reduce((a, ms, i) => a + ms - t.stepOnnxMs[i]!, 0), 9);
    expect(s.vaeEncoderMs).toBe(0); // txt2img: no encoder stage
    for (const v of [s.stepsMs, s.textEncoderMs, s.vaeDecoderMs, s.restMs]) expect(v).toBeGreaterThan(0);
  });

  it('counts the fp16 I/O conversion of a UNet stored in fp16 as part of the overhead', async () => {
    const m = await loadModel(halfIoUnetFolder(FIXTURE_MODEL));
    try {
      const { timings: t } = await generate(m, { prompt: 'a cat', seed: 3, steps: 3, width: 64, height: 64, scheduler: 'ddim' });
      expect(t.convertMs).toBeGreaterThan(0);
      expect(t.convertMs).toBeLessThan(t.overheadMs);
    } finally {
      await m.release();
    }
  });

  it('refuses a run without its stage events', () => {
    const t = { textEncoderMs: 1, vaeEncoderMs: 0, stepMs: [2], stepOnnxMs: [1], denoiseMs: 2, vaeDecoderMs: 1, totalMs: 5, onnxMs: 3, overheadMs: 2, stepTransfers: [], transfers: 0 };
    expect(() => overheadSplit(t, [])).toThrow('no denoise stage event');
    expect(() => overheadSplit({ ...t, stepOnnxMs: [] }, [{ type: 'stage', stage: 'denoise', ms: 2, onnxMs: 1 }])).toThrow('1 step times against 0 session.run times');
  });
});

describe('the GPU report', () => {
  const W = 16, H = 8;
  /** An image of a fixed pattern, plus uniform noise of amplitude `a` (PSNR ≈ 20·log10(√3 / a)). */
  const picture = (a: number, seed: number) => {
    let s = seed;
    const rand = () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    return Float32Array.from({ length: W * H * 3 }, (_, i) => Math.min(1, Math.max(0, 0.5 + 0.3 * Math.sin(i / 7) + a * (2 * rand() - 1))));
  };
  const row = (name: string, image: string, extra: Partial<RowResult> = {}): RowResult => ({
    name, model: 'sd15-fp16', variant: { provider: 'cuda' }, image, width: W, height: H, provider: 'cuda', runs: 2,
    unetRunMs: 15, loopStepMs: 16, imageMs: 850, stepOverheadMs: 0.3, overheadMs: 20, overheadFraction: 20 / 850,
    overheadSplit: { stepsMs: 15, loopMs: 0.5, textEncoderMs: 1, vaeEncoderMs: 0, vaeDecoderMs: 3, restMs: 0.5 }, convertMs: 8, ...extra,
  });

  it('gives each row PSNR against its baseline and its diffusers image, and flags an SD-fusion row under the limit', () => {
    const dir = tmp();
    const save = (name: string, img: Float32Array) => writeFileSync(join(dir, `${name}.f32`), img);
    const base = picture(0, 1);
    save('ref', picture(0.002, 9));
    save('base', base);
    save('close', Float32Array.from(base, (v, i) => v + (i % 2 ? 1e-3 : -1e-3))); // 60 dB
    save('far', picture(0.05, 5)); // ~31 dB
    const fused = 'cuda fp16 + fused attention';
    const engine = [
      row(fused, 'base', { reference: 'ref' }),
      row(`${fused} + groupNorm`, 'close', { baseline: fused, reference: 'ref', variant: { provider: 'cuda', sdFusions: { packedQkv: false, groupNorm: true, biasSplitGelu: false } } }),
      row(`${fused} + packedQkv`, 'far', { baseline: fused, reference: 'ref', variant: { provider: 'cuda', sdFusions: { packedQkv: true, groupNorm: false, biasSplitGelu: false } } }),
      row(deepcacheRow(3), 'far', { baseline: fused, reference: 'ref', variant: { provider: 'cuda', deepcache: { interval: 3, branch: 0 } }, loopStepMs: 8 }),
    ];
    const torch: TorchResult = { device: { gpu: 'g', nvidiaSmi: 's', torch: 't', cuda: 'c', diffusers: 'd', transformers: 'x', cudnn: 1 }, skipped: [], rows: [{ name: 'diffusers fp16 + DeepCache helper N=3 b0', kind: 'pipeline', loopSpeedup: 2.5 }] };
    const r = buildReport(torch, engine, dir, { width: W, height: H, steps: 50, guidance: 7.5, prompt: 'p', seed: 1 }, '1.29.0', 'test');
    const out = Object.fromEntries(r.json.engine.map((e) => [e.name, e]));
    expect(out[fused]!.psnrVsBaseline).toBeUndefined();
    expect(out[fused]!.psnrVsDiffusers).toBeGreaterThan(50);
    expect(out[`${fused} + groupNorm`]!.psnrVsBaseline).toBeCloseTo(60, 1);
    expect(out[`${fused} + packedQkv`]!.psnrVsBaseline).toBeLessThan(FUSION_PSNR_MIN_DB);
    expect(out[`${fused} + packedQkv`]).toMatchObject({ psnrBelowLimit: FUSION_PSNR_MIN_DB });
    expect(out[`${fused} + groupNorm`]).not.toHaveProperty('psnrBelowLimit');
    // DeepCache is not a rewrite: a lower PSNR is its trade, not flagged
    expect(out[deepcacheRow(3)]!.psnrVsBaseline).toBeLessThan(FUSION_PSNR_MIN_DB);
    expect(out[deepcacheRow(3)]).not.toHaveProperty('psnrBelowLimit');
    const lines = r.markdown.split('\n');
    expect(lines.find((l) => l.startsWith(`| ${fused} + packedQkv |`))).toContain(`**< ${FUSION_PSNR_MIN_DB} dB**`);
    expect(lines.filter((l) => l.includes(`**< ${FUSION_PSNR_MIN_DB} dB**`))).toHaveLength(1);
    // the overhead split, steps / loop / text / VAE / rest
    expect(lines.find((l) => l.startsWith(`| ${fused} |`))).toContain('| 15.0 / 0.5 / 1.0 / 3.0 / 0.5 (I/O conversion 8.0) |');
    // DeepCache's loop speed-up against its own baseline row, against the helper's
    const dc = r.json.targets.find((t) => t.target.startsWith('DeepCache N=3'))!;
    expect(dc.measured).toBe('engine 2.00x vs helper 2.50x');
    expect(dc.met).toBe(false);
  });

  it("takes the faster of diffusers' two eager runs, the best image-keeping fp16 row, and WebGPU's loop step (its session.run does not wait)", () => {
    const fused = 'cuda fp16 + fused attention';
    const engine = [
      row(fused, 'base', { unetRunMs: 15, imageMs: 860 }),
      row(`${fused} + nhwcConv`, 'base', { unetRunMs: 13, imageMs: 750 }),
      row(deepcacheRow(3), 'base', { unetRunMs: 10, imageMs: 400, loopStepMs: 8, baseline: fused }), // changes the image: not a step/image candidate
      row('webgpu fp16 + fused attention', 'base', { provider: 'webgpu', unetRunMs: 22, loopStepMs: 106 }),
    ];
    const torch: TorchResult = {
      device: { gpu: 'g', nvidiaSmi: 's', torch: 't', cuda: 'c', diffusers: 'd', transformers: 'x', cudnn: 1 }, skipped: [],
      rows: [
        { name: 'torch fp16 eager', kind: 'unet', stepMs: 26 }, { name: 'torch fp16 eager, again', kind: 'unet', stepMs: 32 },
        { name: 'diffusers fp16 eager', kind: 'pipeline', imageMs: 2200, loopStepMs: 44 }, { name: 'diffusers fp16 eager, again', kind: 'pipeline', imageMs: 1560, loopStepMs: 33 },
        // torch_bench's own speed-up is against the plain run before it (here the slow one): the target uses the faster
        { name: 'diffusers fp16 + DeepCache helper N=3 b0', kind: 'pipeline', loopStepMs: 11, loopSpeedup: 4 },
      ],
    };
    const r = buildReport(torch, engine, tmp(), { width: W, height: H, steps: 50, guidance: 7.5, prompt: 'p', seed: 1 }, '1.29.0', 'test');
    const t = (p: string) => r.json.targets.find((x) => x.target.startsWith(p))!;
    expect(t('CUDA fp16 UNet step <= 0.5x').measured).toBe(`0.50x (${fused} + nhwcConv vs torch eager: 13.00 vs 26.00 ms)`);
    expect(t('whole 50-step image').measured).toBe(`0.48x (${fused} + nhwcConv vs diffusers fp16 eager: 750.00 vs 1560.00 ms)`);
    expect(t('WebGPU fp16 step').measured).toBe('4.08x (webgpu fp16 + fused attention loop step vs torch eager: 106.00 vs 26.00 ms)');
    expect(t('WebGPU fp16 step').met).toBe(false);
    expect(t('DeepCache N=3').measured).toBe('engine 2.00x vs helper 3.00x');
  });
});

describe('the GPU bench rows', () => {
  const cuda = configs('cuda'), web = configs('webgpu-embedded');
  it('has a row per SD-fusion part, all parts with DeepCache N=3 against all parts, and WebGPU rows only where WebGPU has right fp16 kernels', () => {
    for (const p of SD_FUSION_PARTS) expect(cuda.find((c) => c.name === `cuda fp16 + fused attention + ${p}`)?.variant.sdFusions).toEqual(Object.fromEntries(SD_FUSION_PARTS.map((q) => [q, q === p])));
    expect(cuda.find((c) => c.name === deepcacheRow(3, 'cuda fp16 + fused attention + SD fusions'))).toMatchObject({ baseline: 'cuda fp16 + fused attention + SD fusions', reference: 'deepcache-n3-b0' });
    const webParts = SD_FUSION_PARTS.filter((p) => KERNELS[p].has('webgpu') && !FP16_BROKEN[p]?.has('webgpu'));
    const webRows = web.filter((c) => c.variant.provider === 'webgpu' && c.variant.sdFusions);
    expect(webRows.length).toBe(webParts.length > 1 ? webParts.length + 1 : webParts.length);
    // every WebGPU row is fp16, so its parts must pass the acceleration's own check
    for (const c of webRows) expect(sdFusions.validate!(Variant.parse(c.variant))).toBeUndefined();
    for (const c of [...cuda, ...web]) if (c.baseline) expect([...cuda, ...web, ...configs('tf32off')].map((x) => x.name)).toContain(c.baseline);
  });
});
