import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GenerateParamsInput } from '../../app/contract';
import type { VariantInput } from '../../app/variant';
import { Engine } from '../../engine/engine';
import type { RgbImage } from '../../engine/image/rgb';
import { loadModel, type LoadedModel } from '../../engine/model/model';
import { generate } from '../../engine/pipeline/generate';
import { addTimeIds } from '../../engine/pipeline/stages/added-conditioning';
import { psnr } from '../support/psnr';
import { f32, imageFromU16, maxAbsDiff, readFixture } from './reference';

/** diffusers' StableDiffusionXL(Img2Img)Pipeline on the tiny SDXL fixture (test/parity/reference/make_sdxl_refs.py, README.md beside it). */
type Size = [number, number];
interface Run {
  name: string; prompt: string; negative_prompt: string | null; num_inference_steps: number; guidance_scale: number; seed: number;
  height?: number; width?: number; num_images_per_prompt?: number; strength?: number; img2img: boolean;
  original_size?: Size; crops_coords_top_left?: Size; target_size?: Size; negative_original_size?: Size; negative_target_size?: Size;
  negative_crops_coords_top_left?: Size; aesthetic_score?: number; negative_aesthetic_score?: number;
  latents: string[]; image: string; imageShape: number[]; add_time_ids: string;
  deepcache?: { interval: number; branch: number }; loras?: { file: string; weight: number }[];
}
const ref = readFixture<{ diffusers: string; runs: Run[]; init_image: string; refinerTimeIds: Record<string, unknown>[] }>('tiny-sdxl-reference.json.gz');
const MODEL = fileURLToPath(new URL('../fixtures/tiny-sdxl', import.meta.url));
const LORAS = fileURLToPath(new URL('../fixtures/loras', import.meta.url));

/** diffusers' __call__ arguments → the engine's parameters (negative_prompt null = absent). */
function params(r: Run): GenerateParamsInput {
  const c = {
    originalSize: r.original_size, cropTopLeft: r.crops_coords_top_left, targetSize: r.target_size,
    negativeOriginalSize: r.negative_original_size, negativeTargetSize: r.negative_target_size,
    negativeCropTopLeft: r.negative_crops_coords_top_left, aestheticScore: r.aesthetic_score, negativeAestheticScore: r.negative_aesthetic_score,
  };
  const given = Object.fromEntries(Object.entries(c).filter(([, v]) => v !== undefined));
  return {
    prompt: r.prompt, negativePrompt: r.negative_prompt ?? undefined, seed: r.seed, steps: r.num_inference_steps, guidance: r.guidance_scale,
    batch: r.num_images_per_prompt ?? 1, width: r.width, height: r.height, strength: r.strength,
    ...(Object.keys(given).length ? { sizeConditioning: given } : {}),
  };
}

/** Worst per-step latent difference and the image PSNR, printed for the report. */
function compare(r: Run, latents: Float32Array[], images: RgbImage[]): { worst: number; db: number } {
  expect(latents.length).toBe(r.latents.length);
  const worst = Math.max(...r.latents.map((b, i) => maxAbsDiff(latents[i]!, f32(b))));
  const expected = imageFromU16(r.image), got = new Float32Array(expected.length);
  images.forEach((im, i) => got.set(im.data, i * im.data.length));
  expect([images.length, images[0]!.height, images[0]!.width]).toEqual(r.imageShape.slice(0, 3));
  const db = psnr(got, expected);
  console.log(`sdxl parity ${r.name}: latents max-abs ${worst.toExponential(2)}, image ${db.toFixed(1)} dB`);
  return { worst, db };
}

const plainRuns = ref.runs.filter((r) => !r.deepcache && !r.loras);
const accelRuns = ref.runs.filter((r) => r.deepcache || r.loras);

let model: LoadedModel;
beforeAll(async () => {
  model = await loadModel(MODEL);
});
afterAll(async () => model.release());

describe(`SDXL pipeline vs diffusers ${ref.diffusers} on tiny-sdxl (same weights, same seed)`, () => {
  const init = { width: 64, height: 48, data: f32(ref.init_image) };
  it('covers every reference run', () => expect(ref.runs.length).toBe(plainRuns.length + accelRuns.length));
  for (const r of plainRuns) {
    it(`${r.name}: every step's latents within 1e-3, image >= 45 dB`, async () => {
      const latents: Float32Array[] = [];
      const res = await generate(model, params(r), { initImage: r.img2img ? init : undefined, onLatents: (_, l) => latents.push(l.slice()) });
      const { worst, db } = compare(r, latents, res.images);
      expect(worst).toBeLessThan(1e-3);
      expect(db).toBeGreaterThanOrEqual(45);
      expect(res.params.scheduler).toBe('euler'); // the folder's EulerDiscreteScheduler
    });
  }
  it('time ids as diffusers made them, base (6 values) and refiner (5, with aesthetic scores)', () => {
    for (const r of plainRuns) {
      const { positive, negative } = addTimeIds(params(r).sizeConditioning ?? {}, 48, 64, false);
      const cfg = r.guidance_scale > 1;
      expect(cfg ? [...negative, ...positive] : positive.concat(positive), r.name).toEqual([...f32(r.add_time_ids)]);
    }
    for (const c of ref.refinerTimeIds) {
      const got = addTimeIds({
        originalSize: c.original_size as Size, cropTopLeft: c.crops_coords_top_left as Size, aestheticScore: c.aesthetic_score as number,
        negativeOriginalSize: c.negative_original_size as Size, negativeCropTopLeft: c.negative_crops_coords_top_left as Size, negativeAestheticScore: c.negative_aesthetic_score as number,
      }, 48, 64, true);
      expect([got.positive, got.negative]).toEqual([c.add_time_ids, c.add_neg_time_ids]);
    }
  });
});

describe('SDXL accelerations vs diffusers (DeepCache: the kit\'s deepcache_helper.py; LoRA: load_lora_weights + fuse_lora)', () => {
  const engine = new Engine(mkdtempSync(join(tmpdir(), 'sdxl-parity-')));
  afterAll(() => engine.release());
  for (const r of accelRuns) {
    it(`${r.name}: every step's latents within 1e-3, image >= 45 dB`, async () => {
      const variant: VariantInput = r.deepcache
        ? { deepcache: { interval: r.deepcache.interval, branch: r.deepcache.branch } }
        : { loras: r.loras!.map((l) => ({ path: join(LORAS, l.file), weight: l.weight })) };
      const latents: Float32Array[] = [];
      const { result, images } = await engine.run({ model: MODEL, params: params(r), variant }, { onLatents: (_, l) => latents.push(l.slice()) });
      const { worst, db } = compare(r, latents, images);
      expect(worst).toBeLessThan(1e-3);
      expect(db).toBeGreaterThanOrEqual(45);
      if (r.deepcache) expect(result.fullSteps.length).toBeLessThan(r.latents.length);
    });
  }
});

// The refiner (text_encoder_2 alone, 5-value time ids with aesthetic scores), made by `make_sdxl_refs.py --only refiner` on the
// GPU machine; until its fixture lands this block is skipped, and says so.
const REFINER = fileURLToPath(new URL('../fixtures/tiny-sdxl-refiner', import.meta.url));
const haveRefiner = existsSync(join(REFINER, 'model_index.json'));
describe.skipIf(!haveRefiner)('SDXL refiner (StableDiffusionXLImg2ImgPipeline, requires_aesthetics_score) vs diffusers on tiny-sdxl-refiner', () => {
  const refiner = haveRefiner ? readFixture<{ runs: Run[]; width: number; height: number }>('tiny-sdxl-refiner-reference.json.gz') : { runs: [], width: 0, height: 0 };
  const { width, height } = refiner;
  let m: LoadedModel;
  beforeAll(async () => {
    m = await loadModel(REFINER);
  });
  afterAll(async () => m?.release());
  it('the folder is a refiner: no text_encoder, aesthetic scores, negatives encoded (not zeroed)', () => {
    expect(m.components.text_encoder).toBeUndefined();
    expect(m.pipelineConfig).toMatchObject({ requires_aesthetics_score: true, force_zeros_for_empty_prompt: false });
    expect(refiner.runs.map((r) => r.name)).toEqual(['refiner', 'refiner-aesthetic-size-no-negative', 'refiner-batch2-nocfg']);
  });
  for (const r of refiner.runs) {
    it(`${r.name}: 5-value time ids as diffusers', every step's latents within 1e-3, image >= 45 dB`, async () => {
      const { positive, negative } = addTimeIds(params(r).sizeConditioning ?? {}, height, width, true);
      const cfg = r.guidance_scale > 1, rows = (row: number[]) => Array.from({ length: r.num_images_per_prompt ?? 1 }, () => row).flat();
      expect([...(cfg ? rows(negative) : []), ...rows(positive)]).toEqual([...f32(r.add_time_ids)]);
      // the script's init image: tiny-sdxl's init_image [48, 64, 3], its top-left height x width
      const full = f32(ref.init_image), data = new Float32Array(height * width * 3);
      for (let y = 0; y < height; y++) data.set(full.subarray(y * 64 * 3, (y * 64 + width) * 3), y * width * 3);
      const latents: Float32Array[] = [];
      const res = await generate(m, params(r), { initImage: { width, height, data }, onLatents: (_, l) => latents.push(l.slice()) });
      const { worst, db } = compare(r, latents, res.images);
      expect(worst).toBeLessThan(1e-3);
      expect(db).toBeGreaterThanOrEqual(45);
    });
  }
});
