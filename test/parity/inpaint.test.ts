import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import type { SchedulerName } from '../../app/contract';
import { loadModel, type LoadedModel } from '../../engine/model/model';
import { generate } from '../../engine/pipeline/generate';
import { latentMask, prepareMask } from '../../engine/pipeline/stages/mask';
import { psnr } from '../support/psnr';
import { f32, FIXTURE_MODEL, imageFromU16, maxAbsDiff, readFixture, type ReferenceRun } from './reference';

interface InpaintRun extends ReferenceRun {
  model: 'tiny-sd' | 'tiny-sd-inpaint';
  method: '9-channel' | 'latent-blend';
  mask: string;
  maskShape: number[];
}
const ref = readFixture<{ diffusers: string; width: number; height: number; init_image: string; mask: string; runs: InpaintRun[] }>('tiny-sd-inpaint-reference.json.gz');
const INPAINT_MODEL = fileURLToPath(new URL('../fixtures/tiny-sd-inpaint', import.meta.url));
const W = ref.width, H = ref.height;
const init = { width: W, height: H, data: f32(ref.init_image) };
const mask = { width: W, height: H, data: f32(ref.mask) };

const models: Record<string, LoadedModel> = {};
beforeAll(async () => {
  models['tiny-sd'] = await loadModel(FIXTURE_MODEL);
  models['tiny-sd-inpaint'] = await loadModel(INPAINT_MODEL);
});
afterAll(async () => Promise.all(Object.values(models).map((m) => m.release())));

describe(`inpainting vs diffusers ${ref.diffusers} StableDiffusionInpaintPipeline (9-channel UNet and latent blend)`, () => {
  it("the mask at latent size equals diffusers' (binarised, nearest), greys off the 8-pixel grid included", () => {
    const small = latentMask(prepareMask(mask, W, H).mask, W, H, W / 8, H / 8);
    const theirs = f32(ref.runs[0]!.mask).subarray(0, small.length);
    expect(maxAbsDiff(small, theirs)).toBe(0);
  });

  for (const r of ref.runs) {
    it(`${r.name} (${r.method}): every step's latents within 1e-3, image PSNR >= 45 dB`, async () => {
      const latents: Float32Array[] = [];
      const res = await generate(
        models[r.model]!,
        { prompt: r.prompt, negativePrompt: r.negativePrompt ?? '', seed: r.seed, steps: r.steps, guidance: r.guidance, scheduler: r.scheduler as SchedulerName, strength: r.strength ?? undefined },
        { initImage: init, mask, onLatents: (_, l) => latents.push(l.slice()) },
      );
      expect(latents.length).toBe(r.latents.length);
      const perStep = r.latents.map((b, i) => maxAbsDiff(latents[i]!, f32(b)));
      const got = res.images[0]!.data, expected = imageFromU16(r.image);
      const db = psnr(got, expected);
      console.log(`${r.name}: worst step latents max-abs ${Math.max(...perStep).toExponential(2)}, image ${db.toFixed(1)} dB`);
      expect(Math.max(...perStep)).toBeLessThan(1e-3);
      expect(db).toBeGreaterThanOrEqual(45);
      expect(res.notices).toEqual([]);
    });
  }
});
