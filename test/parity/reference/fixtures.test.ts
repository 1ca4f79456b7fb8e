import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { openSession, tensor, type OrtSession } from '../../../engine/model/onnx-session';
import { loadClipTokenizer } from '../../../engine/tokenizer/clip';
import { f32, maxAbsDiff, readFixture } from '../reference';

/**
 * The SDXL / inpainting / ControlNet fixtures keep the contract README.md (beside this file) states:
 * folders complete, and the graphs fed as documented give diffusers' recorded tensors.
 */
const dir = (name: string) => fileURLToPath(new URL(`../../fixtures/${name}`, import.meta.url));
const open = (path: string) => openSession(`${dir(path)}/model.onnx`, { executionProviders: ['cpu'] });
const f32t = (data: Float32Array, dims: number[]) => tensor('float32', data, dims);

type Run = Record<string, unknown> & { name: string; stepTimesteps: number[]; latents: string[] };
const sdxl = readFixture<{ runs: Run[]; width: number; height: number }>('tiny-sdxl-reference.json.gz');
const inpaint = readFixture<{ runs: Run[] }>('tiny-sd-inpaint-reference.json.gz');
const controlnet = readFixture<{ runs: Run[]; controlImages: Record<string, string> }>('tiny-sd-controlnet-reference.json.gz');
// tiny-sd's text encoder on ["blurry, low quality", "a photo of an astronaut riding a horse"]: the ControlNet runs' CFG pair
const promptEmbeds = f32(readFixture<{ promptEmbeds: string }>('tiny-sd-reference.json.gz').promptEmbeds);

async function out(s: OrtSession, feeds: Parameters<OrtSession['run']>[0], name: string): Promise<Float32Array> {
  return (await s.run(feeds))[name]!.data as Float32Array;
}

describe('new parity fixtures', () => {
  it('every folder holds the components its model_index.json names (links to tiny-sd resolve)', () => {
    for (const name of ['tiny-sdxl', 'tiny-sd-inpaint', 'tiny-sd-controlnet', 'tiny-sd-controlnet-plain']) {
      const index = JSON.parse(readFileSync(`${dir(name)}/model_index.json`, 'utf8')) as Record<string, unknown>;
      const parts = Object.entries(index).filter(([, v]) => Array.isArray(v) && v[0] !== null).map(([k]) => k);
      expect(parts.length).toBeGreaterThan(4);
      for (const p of parts) expect(existsSync(`${dir(name)}/${p}`), `${name}/${p}`).toBe(true);
    }
    for (const r of [...sdxl.runs, ...inpaint.runs, ...controlnet.runs]) expect(r.latents.length, r.name).toBe(r.stepTimesteps.length);
  });

  it('SDXL text stage: both encoders\' hidden_states.1 concatenated, pooled = text_encoder_2 text_embeds', async () => {
    const run = sdxl.runs.find((r) => r.name === 'txt2img')!;
    const tok1 = loadClipTokenizer(`${dir('tiny-sdxl')}/tokenizer`), tok2 = loadClipTokenizer(`${dir('tiny-sdxl')}/tokenizer_2`);
    expect([tok1.padId, tok2.padId]).toEqual([835, 0]); // tokenizer_2 pads with "!" as SDXL's does
    const texts = [run.negative_prompt as string, run.prompt as string]; // the CFG batch: negative first
    const ids = (t: typeof tok1) => tensor('int32', Int32Array.from(texts.flatMap((x) => [...t.encode(x)])), [2, 77]);
    const te1 = await open('tiny-sdxl/text_encoder'), te2 = await open('tiny-sdxl/text_encoder_2');
    const h1 = await out(te1, { input_ids: ids(tok1) }, 'hidden_states.1');
    const r2 = await te2.run({ input_ids: ids(tok2) });
    const h2 = r2['hidden_states.1']!.data as Float32Array;
    const embeds = new Float32Array(2 * 77 * 24);
    for (let i = 0; i < 2 * 77; i++) {
      embeds.set(h1.subarray(i * 8, i * 8 + 8), i * 24);
      embeds.set(h2.subarray(i * 16, i * 16 + 16), i * 24 + 8);
    }
    expect(maxAbsDiff(embeds, f32(run.prompt_embeds as string))).toBeLessThan(1e-4);
    expect(maxAbsDiff(r2.text_embeds!.data as Float32Array, f32(run.add_text_embeds as string))).toBeLessThan(1e-4);
    expect([...f32(run.add_time_ids as string)]).toEqual([48, 64, 0, 0, 48, 64, 48, 64, 0, 0, 48, 64]);
  });

  it('the ControlNet graph on the step-0 feeds gives diffusers\' step-0 residuals', async () => {
    const run = controlnet.runs.find((r) => r.name === 'cn-ddim')!;
    const res = run.step0Residuals as { down: string[]; downShapes: number[][]; mid: string };
    const init = f32(run.initLatents as string); // DDIM: scale_model_input is the identity
    const sample = new Float32Array(init.length * 2);
    sample.set(init);
    sample.set(init, init.length);
    const hwc = f32(controlnet.controlImages.edges!), h = 64, w = 96;
    const cond = new Float32Array(2 * 3 * h * w);
    for (let c = 0; c < 3; c++) for (let i = 0; i < h * w; i++) cond[c * h * w + i] = cond[3 * h * w + c * h * w + i] = hwc[i * 3 + c]!;
    const s = await open('tiny-sd-controlnet/controlnet');
    const got = await s.run({
      sample: f32t(sample, [2, 4, 8, 12]), timestep: f32t(Float32Array.of(run.stepTimesteps[0]!), [1]),
      encoder_hidden_states: f32t(promptEmbeds, [2, 77, 32]),
      controlnet_cond: f32t(cond, [2, 3, h, w]), conditioning_scale: f32t(Float32Array.of(1), [1]),
    });
    res.down.forEach((d, i) => expect(maxAbsDiff(got[`down_block_res_sample_${i}`]!.data as Float32Array, f32(d)), `residual ${i}`).toBeLessThan(1e-4));
    expect(maxAbsDiff(got.mid_block_res_sample!.data as Float32Array, f32(res.mid))).toBeLessThan(1e-4);
  });

  it('the residual-input UNet with zero residuals is the plain export', async () => {
    const withRes = await open('tiny-sd-controlnet/unet'), plain = await open('tiny-sd-controlnet-plain/unet');
    const shapes = [[2, 4, 8, 12], [2, 4, 8, 12], [2, 4, 4, 6], [2, 8, 4, 6]];
    const sample = Float32Array.from({ length: 2 * 4 * 8 * 12 }, (_, i) => Math.sin(i * 0.37));
    const base = {
      sample: f32t(sample, [2, 4, 8, 12]), timestep: f32t(Float32Array.of(500), [1]),
      encoder_hidden_states: f32t(promptEmbeds, [2, 77, 32]),
    };
    const zeros = Object.fromEntries(shapes.map((d, i) => [`down_block_additional_residual_${i}`, f32t(new Float32Array(d.reduce((a, b) => a * b)), d)]));
    const a = await out(withRes, { ...base, ...zeros, mid_block_additional_residual: f32t(new Float32Array(2 * 8 * 4 * 6), [2, 8, 4, 6]) }, 'out_sample');
    expect(maxAbsDiff(a, await out(plain, base, 'out_sample'))).toBeLessThan(1e-5);
  });
});
