import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SchedulerName } from '../../app/contract';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { psnr } from '../support/psnr';
import { readModel, writeModel } from '../../engine/onnx/model-proto';
import { foldStep } from '../../engine/onnx/step-fold';
import { takesStep } from '../../engine/pipeline/folded';
import { graphOf } from '../../engine/pipeline/session-runner';
import { loadModel, type LoadedModel } from '../../engine/model/model';
import { generate } from '../../engine/pipeline/generate';
import { f32, FIXTURE_MODEL, imageFromU16, maxAbsDiff, reference } from './reference';

let model: LoadedModel, folded: LoadedModel;
beforeAll(async () => {
  model = await loadModel(FIXTURE_MODEL);
  // the step in the UNet graph (engine/onnx/step-fold.ts), as the step-in-graph acceleration writes it
  const unet = join(mkdtempSync(join(tmpdir(), 'folded-')), 'model.onnx'), m = readModel(join(FIXTURE_MODEL, 'unet', 'model.onnx'));
  foldStep(m);
  writeModel(unet, m);
  folded = await loadModel(FIXTURE_MODEL, {}, { unet });
});
afterAll(async () => Promise.all([model.release(), folded.release()]));

describe(`engine vs diffusers ${reference.diffusers} on the tiny SD fixture (same weights, same seed)`, () => {
  const init = { width: 96, height: 64, data: f32(reference.init_image) };
  for (const [r, fold] of [...reference.runs.map((x) => [x, false] as const), ...reference.runs.map((x) => [x, true] as const)]) {
    it(`${r.name}${fold ? ', the step in the UNet graph' : ''}: every step's latents within 1e-3, image PSNR >= 45 dB`, async () => {
      const model_ = fold ? folded : model;
      expect(takesStep(graphOf(model_, 'unet'))).toBe(fold);
      const latents: Float32Array[] = [];
      const img2img = r.strength !== null;
      const res = await generate(
        { ...model_, schedulerConfig: { ...model_.schedulerConfig, ...r.overrides } },
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
