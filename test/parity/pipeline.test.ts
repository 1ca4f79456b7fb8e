import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SchedulerName } from '../../app/contract';
import { psnr } from '../support/psnr';
import { loadModel, type LoadedModel } from '../../engine/model/model';
import { generate } from '../../engine/pipeline/generate';
import { f32, FIXTURE_MODEL, imageFromU16, maxAbsDiff, reference } from './reference';

let model: LoadedModel;
beforeAll(async () => {
  model = await loadModel(FIXTURE_MODEL);
});
afterAll(async () => model.release());

describe(`engine vs diffusers ${reference.diffusers} on the tiny SD fixture (same weights, same seed)`, () => {
  const init = { width: 96, height: 64, data: f32(reference.init_image) };
  for (const r of reference.runs) {
    it(`${r.name}: every step's latents within 1e-3, image PSNR >= 45 dB`, async () => {
      const latents: Float32Array[] = [];
      const img2img = r.strength !== null;
      const res = await generate(
        { ...model, schedulerConfig: { ...model.schedulerConfig, ...r.overrides } },
        {
          prompt: r.prompt, negativePrompt: r.negativePrompt ?? '', seed: r.seed, steps: r.steps, guidance: r.guidance,
          width: img2img ? undefined : r.width, height: img2img ? undefined : r.height, scheduler: r.scheduler as SchedulerName,
          batch: r.batch, strength: r.strength ?? undefined,
        },
        { initImage: img2img ? init : undefined, onLatents: (_, l) => latents.push(l.slice()) },
      );
      expect(latents.length).toBe(r.latents.length);
      const worst = Math.max(...r.latents.map((b, i) => maxAbsDiff(latents[i]!, f32(b))));
      expect(worst).toBeLessThan(1e-3);
      const expected = imageFromU16(r.image);
      const got = new Float32Array(expected.length);
      res.images.forEach((im, i) => got.set(im.data, i * im.data.length));
      expect(res.images[0]!.width).toBe(r.imageShape[2]);
      expect(res.images[0]!.height).toBe(r.imageShape[1]);
      expect(psnr(got, expected)).toBeGreaterThanOrEqual(45);
    });
  }
});
