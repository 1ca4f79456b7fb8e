import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync, cpSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { plainError, plainProviderReason } from '../../app/errors';
import { fitLatentFactors, latentsToRgb, SD_LATENT_FACTORS } from '../../app/metrics';
import { ranLabel, shownStep, speedupSpread, stepsNote } from '../../app/run-stats';
import type { RunRecord } from '../../app/studio';
import { DEFAULT_THRESHOLDS, readVerdict, VerdictThresholds, whereIs, worstTile } from '../../app/verdict';
import { Engine } from '../../engine/engine';
import { expandHome, resolveUserPath } from '../../engine/io/paths';
import { inspectModel } from '../../engine/model/folder';
import { loadClipTokenizer } from '../../engine/tokenizer/clip';
import { FIXTURE_MODEL } from '../parity/reference';

const EMBEDDED = fileURLToPath(new URL('../../assets/models/emoji-sd', import.meta.url));
const run = promisify(execFile);

describe('the verdict: a reading against thresholds, and where a pair differs most', () => {
  it('reads pixel-identical, visually identical, small differences and different at the thresholds', () => {
    expect(readVerdict({ psnr: null, ssim: 1 })).toBe('identical');
    expect(readVerdict({ psnr: 40, ssim: DEFAULT_THRESHOLDS.identical })).toBe('visually-identical');
    expect(readVerdict({ psnr: 30, ssim: 0.95 })).toBe('small-differences');
    expect(readVerdict({ psnr: 20, ssim: 0.5 })).toBe('different');
    expect(readVerdict({ psnr: 20, ssim: 0.5 }, { identical: 0.6, small: 0.4 })).toBe('small-differences');
  });

  it('refuses thresholds out of [0, 1] or with "small" above "identical", saying which', () => {
    const r = VerdictThresholds.safeParse({ identical: 0.9, small: 0.95 });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.message).toContain('must not be above');
    expect(VerdictThresholds.safeParse({ identical: 1.5, small: 0.5 }).error?.issues[0]?.message).toBe('identical: SSIM must be ≤ 1');
  });

  it('finds the tile of largest mean difference and says where it lies', () => {
    const w = 64, h = 48, d = new Float32Array(w * h);
    for (let y = 40; y < 48; y++) for (let x = 56; x < 64; x++) d[y * w + x] = 0.5;
    const t = worstTile(d, w, h);
    expect(t).toEqual({ x: 56, y: 40, w: 8, h: 8, mean: 0.5 });
    expect(whereIs(t, w, h)).toBe('bottom right');
    expect(whereIs({ x: 28, y: 20, w: 8, h: 8 }, w, h)).toBe('centre');
    expect(whereIs({ x: 0, y: 0, w: 8, h: 8 }, w, h)).toBe('top left');
  });
});

const rec = (side: string, totalMs: number, firstRun = false): RunRecord => ({ side, repeat: 0, result: { firstRun, timings: { totalMs } } } as unknown as RunRecord);

describe('run stats for the verdict, fallbacks and step counts', () => {
  it('gives the speed-up spread from the steady runs\' quartiles, none with one steady run a side', () => {
    const runs = [rec('A', 999, true), rec('A', 100), rec('A', 120), rec('B', 999, true), rec('B', 50), rec('B', 60)];
    const s = speedupSpread(runs)!;
    expect(s.runs).toEqual([2, 2]);
    expect(s.low).toBeCloseTo(105 / 57.5);
    expect(s.high).toBeCloseTo(115 / 52.5);
    expect(speedupSpread([rec('A', 1, true), rec('A', 2), rec('B', 1, true), rec('B', 2)])).toBeUndefined();
  });

  it('labels a fallen-back side with what ran', () => {
    expect(ranLabel('cuda', { provider: 'cpu', fellBack: true })).toBe('cuda (fell back to cpu)');
    expect(ranLabel('cuda', { provider: 'cuda', fellBack: false })).toBe('cuda');
    expect(ranLabel('B')).toBe('B');
  });

  it('says steps as set when PNDM makes an extra UNet call, and why', () => {
    expect(shownStep(1, 21, 20)).toEqual({ step: 1, of: 20 });
    expect(shownStep(2, 21, 20)).toEqual({ step: 1, of: 20 });
    expect(shownStep(21, 21, 20)).toEqual({ step: 20, of: 20 });
    expect(shownStep(7, 12, 20)).toEqual({ step: 7, of: 12 }); // img2img visits fewer: its own count
    expect(stepsNote(20, 21, 'pndm')).toBe('20 steps made 21 UNet calls: PNDM takes its first step twice, the warm-up of its multistep method');
    expect(stepsNote(20, 20, 'euler')).toBeUndefined();
  });
});

describe('errors in plain words', () => {
  it('turns a refused request into "Steps: must be ≤ 1000", B\'s fields named as B\'s', () => {
    expect(plainError('jobs.compare: invalid request: params.steps: steps must be <= 1000')).toBe('Steps: must be ≤ 1000');
    expect(plainError('jobs.compare: invalid request: params.negativePrompt: negative prompt must be at most 4000 characters; b.cfgTruncation: cfgTruncation must be >= 0'))
      .toBe('Negative prompt: must be at most 4000 characters; B · CFG truncation: must be ≥ 0');
    expect(plainError('invalid run request: params.seed: seed must be an integer')).toBe('Seed: must be an integer');
    expect(plainError('the studio host restarted')).toBe('the studio host restarted');
  });

  it('maps a provider\'s raw failure to plain words and keeps the raw text', () => {
    const raw = '/onnxruntime/core/providers/webgpu/webgpu_context.cc:152 void Initialize() ORT_ENFORCE(adapter_ != nullptr) was false. Failed to get a WebGPU adapter.';
    expect(plainProviderReason(raw)).toEqual({ plain: 'no WebGPU adapter (GPU) could be opened on this machine', raw });
    expect(plainProviderReason('foo.cc:12 Check failed: x').plain).toContain('failed to start');
    expect(plainProviderReason('X: Failed to load shared library (its binaries are not installed: run `npm run setup:gpu`)').plain).toBe('its GPU libraries are not installed (run `npm run setup:gpu`)');
    expect(plainProviderReason('not built for linux')).toEqual({ raw: 'not built for linux' });
  });
});

describe('paths with ~, the model folder\'s guidance, prompt tokens', () => {
  it('expands ~ and ~/ to the home folder, leaves ~user and other paths alone', () => {
    expect(expandHome('~')).toBe(homedir());
    expect(expandHome('~/ab-runs')).toBe(join(homedir(), 'ab-runs'));
    expect(expandHome('~bob/x')).toBe('~bob/x');
    expect(resolveUserPath('/tmp/x')).toBe('/tmp/x');
  });

  it('reads the recommended guidance from studio.json (the embedded model: 3) and refuses a bad one', () => {
    expect(inspectModel(EMBEDDED).recommendedGuidance).toBe(3);
    expect(inspectModel(FIXTURE_MODEL).recommendedGuidance).toBeUndefined();
    const dir = join(mkdtempSync(join(tmpdir(), 'hints-')), 'm');
    cpSync(FIXTURE_MODEL, dir, { recursive: true });
    writeFileSync(join(dir, 'studio.json'), '{"guidance": "high"}');
    expect(() => inspectModel(dir)).toThrow(/studio\.json: "guidance" must be a number from 0 to 100, not "high"/);
    writeFileSync(join(dir, 'studio.json'), '{"controlnets": ["../nowhere"]}');
    expect(() => inspectModel(dir)).toThrow(/studio\.json: "controlnets" names .*nowhere, which has no model\.onnx/);
    writeFileSync(join(dir, 'studio.json'), '{"controlnets": "../x"}');
    expect(() => inspectModel(dir)).toThrow(/"controlnets" must be a list of folder paths/);
  });

  it('the CLI defaults to the model\'s guidance and says what ran', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'cli-g-')), 'x.png');
    const { stderr } = await run(process.execPath, ['--import', 'tsx', 'engine/cli/main.ts', 'generate', '--prompt', 'grinning face', '--steps', '2', '--seed', '1', '--out', out], { cwd: join(__dirname, '../..') });
    expect(stderr).toMatch(/ · ran on cpu\n2 steps made 3 UNet calls: PNDM/);
    const { readPng } = await import('../../engine/image/png');
    expect(readPng(out).text.parameters).toContain('CFG scale: 3,');
  }, 60_000);

  it('says which words of a prompt past 77 tokens are dropped', () => {
    const tok = loadClipTokenizer(join(EMBEDDED, 'tokenizer'));
    expect(tok.dropped('grinning face')).toBe('');
    const words = Array.from({ length: 100 }, (_, i) => `w${i}`);
    const dropped = tok.dropped(words.join(' '));
    const kept = words.join(' ').slice(0, words.join(' ').length - dropped.length).trim();
    expect(dropped.endsWith('w99')).toBe(true);
    expect(tok.count(kept)).toBeLessThanOrEqual(77);
    expect(tok.count(`${kept} ${dropped.split(' ')[0]}`)).toBeGreaterThan(77);
  });
});

describe('live previews: latent -> RGB factors fitted to the model', () => {
  it('a fit from the final latents reproduces the decoded image far better than SD 1.x\'s factors (measured on the embedded model)', async () => {
    const engine = new Engine(mkdtempSync(join(tmpdir(), 'preview-')));
    let last: { latents: Float32Array; dims: readonly number[] } | undefined;
    const go = (seed: number) => engine.run({ model: EMBEDDED, params: { prompt: 'grinning face', seed, steps: 6, guidance: 3 }, variant: { label: 'x' } },
      { onLatents: (_s, latents, dims) => void (last = { latents: Float32Array.from(latents), dims }) });
    const first = await go(1);
    const fit = fitLatentFactors(last!.latents, last!.dims, first.images[0]!)!;
    expect(fit).toHaveLength(5);
    // judged on another seed's run: the fit carries over to new images of the model
    const second = await go(2);
    const img = second.images[0]!, [, , h = 1, w = 1] = last!.dims;
    const err = (factors: number[][]): number => {
      const rgb = latentsToRgb(last!.latents, last!.dims, factors), s = img.width / w;
      let e = 0;
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let c = 0; c < 3; c++) {
        let t = 0;
        for (let iy = y * s; iy < (y + 1) * s; iy++) for (let ix = x * s; ix < (x + 1) * s; ix++) t += img.data[(iy * img.width + ix) * 3 + c]!;
        e += Math.abs(rgb.data[(y * w + x) * 3 + c]! / 255 - t / (s * s));
      }
      return e / (w * h * 3);
    };
    const [sd, own] = [err(SD_LATENT_FACTORS), err(fit)];
    console.info(`preview mean abs error vs the decoded image: SD 1.x factors ${sd.toFixed(3)}, fitted ${own.toFixed(3)}`);
    expect(own).toBeLessThan(sd / 2);
    await engine.release();
  }, 120_000);
});

describe('report charts', () => {
  it('spaces legend keys by their labels, and the sweep chart has SSIM ticks and a branch legend', async () => {
    const { lines, scatter } = await import('../../main/host/report-svg');
    const svg = lines([{ label: 'A per step (full UNet = filled)', color: '#f00', ys: [1, 2] }, { label: 'B per step (full UNet = filled)', color: '#0f0', ys: [2, 1] }]);
    const xs = [...svg.matchAll(/<rect x="([\d.]+)" y="\d+" width="10"/g)].map((m) => Number(m[1]));
    expect(xs).toHaveLength(2);
    expect(xs[1]! - xs[0]!).toBeGreaterThan('A per step (full UNet = filled)'.length * 6); // no overlap
    const sc = scatter([{ x: 10, y: 0.97, label: 'a', color: '#f00' }, { x: 5, y: 0.93, label: 'b', color: '#0f0' }], [], undefined, [{ label: 'branch 0', color: '#f00' }, { label: 'branch 1', color: '#0f0' }]);
    expect(sc).toMatch(/>0\.9\d0</);
    expect(sc).toContain('>branch 0<');
    expect(sc).toContain('>branch 1<');
  });
});
