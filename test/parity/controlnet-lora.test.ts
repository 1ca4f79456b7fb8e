import { mkdirSync, mkdtempSync, readdirSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { Engine } from '../../engine/engine';
import { writePng } from '../../engine/image/png';
import { toRgb8 } from '../../engine/image/rgb';
import { weightNodes } from '../../engine/onnx/graph';
import { readModel, writeModel } from '../../engine/onnx/model-proto';
import { readFloats, writeFloats } from '../../engine/onnx/tensor-data';
import { psnr } from '../support/psnr';
import { values, writeSafetensors } from '../support/safetensors-writer';
import { f32, imageFromU16, maxAbsDiff, readFixture } from './reference';

/**
 * A LoRA and a ControlNet in one run: the LoRA patches the UNet the residual surgery made from the plain
 * export (tiny-sd-controlnet-plain); the ControlNet is not patched (as diffusers' load_lora_weights leaves it).
 */
const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));
const PLAIN = fixture('tiny-sd-controlnet-plain');
interface LoraRun {
  name: string; prompt: string; negativePrompt: string; seed: number; steps: number; guidance: number; width: number; height: number;
  conditioningScale: number; loras: { file: string; weight: number }[]; latents: string[]; image: string; psnrVsManualMerge: number;
}
const ref = readFixture<{ controlImages: Record<string, string>; loraRuns?: LoraRun[] }>('tiny-sd-controlnet-reference.json.gz');
const dir = mkdtempSync(join(tmpdir(), 'cn-lora-'));
const engine = new Engine(join(dir, 'cache'));
afterAll(() => engine.release());

// the edges map is 0/1 only, so its PNG holds exactly the reference's float image
const edges = join(dir, 'edges.png');
writePng(edges, toRgb8({ width: 96, height: 64, data: f32(ref.controlImages.edges!) }));
const base = { prompt: 'a photo of an astronaut riding a horse', negativePrompt: 'blurry, low quality', seed: 42, steps: 8, guidance: 7.5, width: 96, height: 64, scheduler: 'ddim' };
const run = (model: string, scale: number, loras: { path: string; weight: number }[] = [], onLatents?: (i: number, l: Float32Array) => void) =>
  engine.run({ model, params: { ...base, controlnet: { units: [{ scale }] } }, variant: { loras }, inputs: { controlImage: { path: edges } } }, { onLatents });

describe('LoRA + ControlNet, engine only (plain UNet: surgery, then the LoRA merge)', () => {
  // kohya keys (rank 2, alpha 1) on the mid block's transformer: the modules the ControlNet has too, under the same names
  const targets = ['attn1.to_q', 'attn2.to_k', 'attn2.to_out.0', 'ff.net.2'].map((t) => `mid_block.attentions.0.transformer_blocks.0.${t}`);
  const unetPath = join(PLAIN, 'unet', 'model.onnx');
  const unet = readModel(unetPath), nodes = weightNodes(unet.graph!);
  const lora: Record<string, { shape: number[]; data: Float32Array | number[] }> = {};
  const W = 0.9, RANK = 2, ALPHA = 1;
  let seed = 11;
  for (const t of targets) {
    const n = nodes.get(`m.${t}`)!;
    const [inn, out] = n.tensor.dims!.map(Number) as [number, number]; // MatMul stores W^T [in, out]
    const key = `lora_unet_${t.replace(/\./g, '_')}`;
    const down = values(RANK * inn, seed++, 1), up = values(out * RANK, seed++, 1);
    Object.assign(lora, { [`${key}.lora_down.weight`]: { shape: [RANK, inn], data: down }, [`${key}.lora_up.weight`]: { shape: [out, RANK], data: up }, [`${key}.alpha`]: { shape: [], data: [ALPHA] } });
    // the same update merged by hand, in float64: W^T[i][o] += w * alpha/rank * sum_r up[o][r] * down[r][i]
    const w = Float64Array.from(readFloats(n.tensor, unetPath));
    for (let i = 0; i < inn; i++) for (let o = 0; o < out; o++) for (let r = 0; r < RANK; r++) w[i * out + o]! += W * (ALPHA / RANK) * up[o * RANK + r]! * down[r * inn + i]!;
    writeFloats(n.tensor, Float32Array.from(w));
  }
  const loraPath = join(dir, 'cn-lora.safetensors');
  writeSafetensors(loraPath, lora);
  // a folder like the plain one with the hand-merged UNet (every other part: the fixture's, by link)
  const hand = join(dir, 'hand-merged');
  mkdirSync(join(hand, 'unet'), { recursive: true });
  for (const part of readdirSync(PLAIN)) if (part !== 'unet') symlinkSync(join(PLAIN, part), join(hand, part));
  symlinkSync(join(PLAIN, 'unet', 'config.json'), join(hand, 'unet', 'config.json'));
  writeModel(join(hand, 'unet', 'model.onnx'), unet);

  it('equals the hand-merged UNet with the unpatched ControlNet, and differs from LoRA-only and ControlNet-only', async () => {
    const both = (await run(PLAIN, 1, [{ path: loraPath, weight: W }])).images[0]!.data;
    const byHand = (await run(hand, 1)).images[0]!.data;
    const controlOnly = (await run(PLAIN, 1)).images[0]!.data;
    const loraOnly = (await run(PLAIN, 0, [{ path: loraPath, weight: W }])).images[0]!.data; // scale 0: diffusers' way of no control
    const diff = maxAbsDiff(both, byHand);
    console.log(`lora+controlnet vs hand merge: max abs ${diff.toExponential(2)}; vs controlnet only ${psnr(both, controlOnly).toFixed(1)} dB, vs lora only ${psnr(both, loraOnly).toFixed(1)} dB`);
    expect(diff).toBeLessThan(1e-5); // float32 merge vs float64 by hand: rounding only
    expect(psnr(both, controlOnly)).toBeLessThan(40);
    expect(psnr(both, loraOnly)).toBeLessThan(40);
  });
});

// diffusers' StableDiffusionControlNetPipeline with load_lora_weights + fuse_lora (make_controlnet_refs.py, `loraRuns`);
// skipped until the GPU machine has re-made the ControlNet fixture with it
describe.skipIf(!ref.loraRuns)('LoRA + ControlNet vs diffusers (plain UNet + surgery)', () => {
  for (const r of ref.loraRuns ?? []) {
    it(`${r.name}: latents within 1e-3 every step, image >= 45 dB`, async () => {
      expect(r.psnrVsManualMerge).toBeGreaterThan(60); // diffusers' fuse_lora is the hand merge
      const latents: Float32Array[] = [];
      const loras = r.loras.map((l) => ({ path: join(fixture('loras'), l.file), weight: l.weight }));
      expect([r.prompt, r.negativePrompt, r.seed, r.steps, r.guidance, r.width, r.height]).toEqual([base.prompt, base.negativePrompt, base.seed, base.steps, base.guidance, base.width, base.height]);
      const { images } = await run(PLAIN, r.conditioningScale, loras, (_, l) => latents.push(l.slice()));
      expect(latents.length).toBe(r.latents.length);
      const worst = Math.max(...r.latents.map((b, i) => maxAbsDiff(latents[i]!, f32(b))));
      const db = psnr(images[0]!.data, imageFromU16(r.image));
      console.log(`lora+controlnet parity ${r.name}: latents max abs ${worst.toExponential(2)}, image ${db.toFixed(1)} dB`);
      expect(worst).toBeLessThan(1e-3);
      expect(db).toBeGreaterThanOrEqual(45);
    });
  }
});
