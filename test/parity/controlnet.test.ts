import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SchedulerName } from '../../app/contract';
import { loadModel, type LoadedModel } from '../../engine/model/model';
import { residualUnet } from '../../engine/onnx/residual-inputs';
import { generate } from '../../engine/pipeline/generate';
import { psnr } from '../support/psnr';
import { f32, imageFromU16, maxAbsDiff, readFixture } from './reference';

interface Run {
  name: string; scheduler: string; steps: number; guidance: number; negativePrompt: string | null; prompt: string; seed: number;
  width: number; height: number; controlnets: string[]; controlImages?: string[];
  conditioningScale?: number | number[]; controlGuidanceStart?: number | number[]; controlGuidanceEnd?: number | number[];
  latents: string[]; image: string; imageShape: number[];
}
const ref = readFixture<{ diffusers: string; runs: Run[]; controlImages: Record<string, string> }>('tiny-sd-controlnet-reference.json.gz');
const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));
const list = <T,>(v: T | T[] | undefined, n: number, d: T): T[] => (Array.isArray(v) ? v : Array.from({ length: n }, () => v ?? d));

const models: Record<string, LoadedModel> = {};
beforeAll(async () => {
  models.exported = await loadModel(fixture('tiny-sd-controlnet'));
  // the plain UNet through the engine's surgery (cached in a fresh folder: the rewrite itself runs)
  const plain = fixture('tiny-sd-controlnet-plain');
  models.surgery = await loadModel(plain, {}, { unet: residualUnet(join(plain, 'unet', 'model.onnx'), mkdtempSync(join(tmpdir(), 'cn-surgery-'))) });
});
afterAll(async () => Promise.all(Object.values(models).map((m) => m.release())));

describe(`ControlNet: engine vs diffusers ${ref.diffusers} (StableDiffusionControlNetPipeline, MultiControlNet)`, () => {
  const runs = ref.runs.filter((r) => r.controlnets.length > 0);
  for (const way of ['exported', 'surgery'] as const) {
    for (const r of runs) {
      it(`${way === 'exported' ? 'UNet exported with residual inputs' : 'plain UNet + residual surgery'}: ${r.name}: latents within 1e-3 every step, image >= 45 dB`, async () => {
        const n = r.controlnets.length;
        const [scale, start, end] = [list(r.conditioningScale, n, 1), list(r.controlGuidanceStart, n, 0), list(r.controlGuidanceEnd, n, 1)];
        const images = r.controlImages!.map((k) => ({ width: r.width, height: r.height, data: f32(ref.controlImages[k]!) }));
        const latents: Float32Array[] = [];
        const res = await generate(models[way]!, {
          prompt: r.prompt, negativePrompt: r.negativePrompt ?? '', seed: r.seed, steps: r.steps, guidance: r.guidance, width: r.width, height: r.height,
          scheduler: r.scheduler as SchedulerName,
          controlnet: { units: scale.map((s, i) => ({ scale: s, start: start[i]!, end: end[i]! })) },
        }, { controlImages: images, onLatents: (_, l) => latents.push(l.slice()) });
        expect(latents.length).toBe(r.latents.length);
        const worst = Math.max(...r.latents.map((b, i) => maxAbsDiff(latents[i]!, f32(b))));
        const db = psnr(res.images[0]!.data, imageFromU16(r.image));
        console.log(`controlnet parity ${way} ${r.name}: latents max abs ${worst.toExponential(2)}, image ${db.toFixed(1)} dB`);
        expect(worst).toBeLessThan(1e-3);
        expect(db).toBeGreaterThanOrEqual(45);
        expect(res.notices?.at(-1)).toMatch(new RegExp(`^ControlNet: ${n} nets? ran on ${r.steps} of ${r.steps} steps, \\d+ ms in onnxruntime$`));
      });
    }
  }
});
