import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { SchedulerName } from '../../app/contract';
import { Engine } from '../../engine/engine';
import { psnr } from '../support/psnr';
import { writePng } from '../../engine/image/png';
import { toRgb8 } from '../../engine/image/rgb';
import { f32, FIXTURE_MODEL, imageFromU16, readFixture } from './reference';

/** diffusers + the kit's deepcache_helper.py (and torch LoRA merges) on the fixture's weights: test/parity/reference/make_accel_refs.py. */
const ref = readFixture<{
  diffusers: string;
  init_image: string;
  plains: Record<string, string>;
  deepcache: { scheduler: string; strength: number | null; steps: number; interval: number; branch: number; image: string; plain: string; psnrVsPlain: number }[];
  lora: { stack: { file: string; weight: number }[]; steps: number; scheduler: string; image: string; psnrVsPlain: number }[];
}>('tiny-sd-accel-reference.json.gz');
const LORAS = fileURLToPath(new URL('../fixtures/loras', import.meta.url));
const engine = new Engine(mkdtempSync(join(tmpdir(), 'accel-parity-')));
afterAll(() => engine.release());
const base = { prompt: 'a photo of an astronaut riding a horse', negativePrompt: 'blurry, low quality', guidance: 7.5, seed: 42 };
// the init image travels by reference, as a PNG (8-bit, as every caller's image does)
const initPng = join(mkdtempSync(join(tmpdir(), 'accel-init-')), 'init.png');
writePng(initPng, toRgb8({ width: 96, height: 64, data: f32(ref.init_image) }));
const inputs = (strength: number | null) => (strength ? { initImage: { path: initPng } } : {});

describe(`DeepCache vs the reference helper on diffusers ${ref.diffusers}`, () => {
  // the cases share 3 plain references: each plain run once (the engine is deterministic), checked in every case
  const plainRuns = new Map<string, ReturnType<typeof engine.run>>();
  for (const c of ref.deepcache) {
    it(`${c.scheduler}${c.strength ? ` img2img ${c.strength}` : ''} N=${c.interval} branch ${c.branch}: PSNR >= 40 dB (reference drifts ${c.psnrVsPlain.toFixed(1)} dB from plain)`, async () => {
      const params = { ...base, steps: c.steps, scheduler: c.scheduler as SchedulerName, ...(c.strength ? { strength: c.strength } : { width: 96, height: 64 }) };
      const { images } = await engine.run({ model: FIXTURE_MODEL, params, variant: { deepcache: { interval: c.interval, branch: c.branch } }, inputs: inputs(c.strength) });
      expect(psnr(images[0]!.data, imageFromU16(c.image))).toBeGreaterThanOrEqual(40);
      // and the drift is DeepCache's, not ours: the plain run matches the plain reference
      if (!plainRuns.has(c.plain)) plainRuns.set(c.plain, engine.run({ model: FIXTURE_MODEL, params, variant: {}, inputs: inputs(c.strength) }));
      const plain = await plainRuns.get(c.plain)!;
      expect(psnr(plain.images[0]!.data, imageFromU16(ref.plains[c.plain]!))).toBeGreaterThanOrEqual(45);
    });
  }
});

describe('LoRA merges vs W + w·(alpha/rank)·up@down applied to the torch modules', () => {
  for (const c of ref.lora) {
    it(`${c.stack.map((s) => `${s.file}@${s.weight}`).join(' + ')}: PSNR >= 40 dB (LoRA moves the image to ${c.psnrVsPlain.toFixed(1)} dB from plain)`, async () => {
      const { images } = await engine.run({
        model: FIXTURE_MODEL,
        params: { ...base, steps: c.steps, scheduler: c.scheduler as SchedulerName, width: 96, height: 64 },
        variant: { loras: c.stack.map((s) => ({ path: join(LORAS, s.file), weight: s.weight })) },
      });
      expect(psnr(images[0]!.data, imageFromU16(c.image))).toBeGreaterThanOrEqual(40);
    });
  }
});

describe("LoRA merges vs diffusers' own loader (load_lora_weights + fuse_lora)", () => {
  const d = JSON.parse(readFileSync(fileURLToPath(new URL('../fixtures/tiny-sd-lora-diffusers-reference.json', import.meta.url)), 'utf8')) as {
    lora_diffusers: { file: string; weight: number; steps: number; image: string }[];
  };
  it('has both key formats', () => expect(d.lora_diffusers.map((x) => x.file).sort()).toEqual(['tiny-lora-kohya-unet.safetensors', 'tiny-lora-peft-unet.safetensors']));
  for (const c of d.lora_diffusers) {
    it(`${c.file}@${c.weight}: PSNR >= 40 dB`, async () => {
      const { images } = await engine.run({
        model: FIXTURE_MODEL,
        params: { ...base, steps: c.steps, scheduler: 'ddim', width: 96, height: 64 },
        variant: { loras: [{ path: join(LORAS, c.file), weight: c.weight }] },
      });
      expect(psnr(images[0]!.data, imageFromU16(c.image))).toBeGreaterThanOrEqual(40);
    });
  }
});
