import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { locateBranch } from '../../engine/accelerations/deepcache';
import { Engine } from '../../engine/engine';
import { inspectModel } from '../../engine/model/folder';
import { readModel } from '../../engine/onnx/model-proto';
import { checkInputs } from '../../engine/pipeline/check-inputs';
import { pipelineFor } from '../../engine/pipeline/pipelines/registry';
import { addTimeIds } from '../../engine/pipeline/stages/added-conditioning';
import { FIXTURE_MODEL, maxAbsDiff } from '../parity/reference';
import { modelCopy } from '../support/model-variants';

/** The SDXL pipeline's refusals (each names what is wrong) and its DeepCache branches. Parity is test/parity/sdxl.test.ts. */
const SDXL = fileURLToPath(new URL('../fixtures/tiny-sdxl', import.meta.url));
const LORAS = fileURLToPath(new URL('../fixtures/loras', import.meta.url));
const engine = new Engine(mkdtempSync(join(tmpdir(), 'sdxl-unit-')));
afterAll(() => engine.release());
const params = { prompt: 'a cat', seed: 1, steps: 2, width: 64, height: 48 };

/** tiny-sdxl with model_index.json edited (and, for a dropped component, its folder removed). */
function withIndex(edit: (index: Record<string, unknown>) => void, drop?: string): string {
  const dir = modelCopy(SDXL);
  const index = JSON.parse(readFileSync(join(dir, 'model_index.json'), 'utf8')) as Record<string, unknown>;
  edit(index);
  writeFileSync(join(dir, 'model_index.json'), JSON.stringify(index));
  if (drop) rmSync(join(dir, drop), { recursive: true });
  return dir;
}

describe('SDXL folders', () => {
  it('the folder picks the sdxl pipeline; size defaults from unet sample_size x VAE factor', () => {
    const info = inspectModel(SDXL);
    expect(pipelineFor(info).id).toBe('sdxl');
    expect(info.defaultSize).toBe(64);
    expect(info.pipelineConfig).toEqual({ force_zeros_for_empty_prompt: true, requires_aesthetics_score: false });
  });
  it('a folder without its second text encoder is refused, naming it', () => {
    const dir = withIndex((i) => delete i.text_encoder_2, 'text_encoder_2');
    expect(() => pipelineFor(inspectModel(dir))).toThrow(/the sdxl \(ORTStableDiffusionXLPipeline\) pipeline needs "text_encoder_2", which the folder does not have/);
  });
  it('a base UNet under requires_aesthetics_score is refused with the fix', async () => {
    const dir = withIndex((i) => (i.requires_aesthetics_score = true));
    await expect(engine.run({ model: dir, params, variant: {} })).rejects.toThrow(/projection_class_embeddings_input_dim 64 = 8 x 6 time ids \+ 16 pooled, but 5 time ids were made: a base UNet; set requires_aesthetics_score: false/);
  });
  it('size conditioning is refused by SD 1.x, and the wrong kind of it by SDXL', () => {
    const sd = inspectModel(FIXTURE_MODEL), xl = inspectModel(SDXL), takes = { sizeConditioning: true };
    expect(() => checkInputs(sd, { ...params, width: 96, height: 64, sizeConditioning: { originalSize: [128, 128] } }))
      .toThrow(/sizeConditioning .* is SDXL's micro-conditioning; tiny-sd \(OnnxStableDiffusionPipeline\) has no time_ids input/);
    expect(() => checkInputs(xl, { ...params, sizeConditioning: { originalSize: [0, 64] } }, undefined, takes)).toThrow(/sizeConditioning.originalSize/);
    expect(() => checkInputs(xl, { ...params, sizeConditioning: { cropTopLeft: [1, 2], aesthetic: 3 } as never }, undefined, takes)).toThrow(/Unrecognized key: "aesthetic"/);
    expect(() => addTimeIds({ aestheticScore: 7 }, 64, 64, false)).toThrow(/sizeConditioning.aestheticScore: an aesthetic score is a refiner's condition/);
    expect(() => addTimeIds({ targetSize: [64, 64] }, 64, 64, true)).toThrow(/sizeConditioning.targetSize: this folder's UNet takes an aesthetic score, not a target size/);
  });
  it('negative size fields default to the positive ones, the negative crop to (0, 0)', () => {
    expect(addTimeIds({ cropTopLeft: [4, 8] }, 48, 64, false)).toEqual({ positive: [48, 64, 4, 8, 48, 64], negative: [48, 64, 4, 8, 48, 64] });
    expect(addTimeIds({ cropTopLeft: [4, 8], negativeOriginalSize: [24, 32] }, 48, 64, false).negative).toEqual([24, 32, 0, 0, 48, 64]);
  });
});

describe('SDXL LoRAs on the wrong model', () => {
  const lora = (model: string, file: string) => engine.run({ model, params: model === SDXL ? params : { ...params, width: 96, height: 64 }, variant: { loras: [{ path: join(LORAS, file), weight: 1 }] } });
  it('an SDXL LoRA (lora_te1_/lora_te2_, text_encoder_2.) on SD 1.x names its keys and the model', async () => {
    await expect(lora(FIXTURE_MODEL, 'tiny-sdxl-lora-kohya.safetensors')).rejects.toThrow(/tiny-sdxl-lora-kohya.safetensors: an SDXL LoRA \(10 lora_te1_… keys \(e.g. lora_te1_text_model_encoder_layers_0_mlp_fc1\), 10 lora_te2_… keys .*\), but .*tiny-sd has one text encoder \(no text_encoder_2/);
    await expect(lora(FIXTURE_MODEL, 'tiny-sdxl-lora-peft.safetensors')).rejects.toThrow(/an SDXL LoRA \(10 text_encoder_2\.… keys/);
  });
  it('an SD 1.x kohya LoRA (lora_te_) on SDXL is refused; its UNet keys find no module there', async () => {
    await expect(lora(SDXL, 'tiny-lora-kohya.safetensors')).rejects.toThrow(/tiny-lora-kohya.safetensors: an SD 1.x\/2.x LoRA \(\d+ lora_te_… keys .*\), but .*tiny-sdxl is SDXL/);
    await expect(lora(SDXL, 'tiny-lora-peft-unet.safetensors')).rejects.toThrow(/unet modules have no weight in .*tiny-sdxl\/unet\/model.onnx.*a LoRA for another architecture/);
  });
});

describe('LCM-LoRA on SDXL', () => {
  it('merges into the UNet and both text encoders and samples 4 LCM steps at guidance 1: the same image as that LoRA stack with those settings', async () => {
    const path = join(LORAS, 'tiny-sdxl-lora-kohya.safetensors');
    const lcm = await engine.run({ model: SDXL, params, variant: { lcmLora: { path } } });
    expect(lcm.result.params).toMatchObject({ scheduler: 'lcm', steps: 4, guidance: 1 });
    expect(lcm.result.timings.stepMs).toHaveLength(4);
    const asLora = await engine.run({ model: SDXL, params: { ...params, scheduler: 'lcm', steps: 4, guidance: 1 }, variant: { loras: [{ path, weight: 1 }] } });
    expect(maxAbsDiff(lcm.images[0]!.data, asLora.images[0]!.data)).toBe(0);
  });
});

describe('fp16 on SDXL', () => {
  it('rounds both text encoders and the UNet; the VAE stays fp32 (its config says force_upcast)', async () => {
    const { result, images } = await engine.run({ model: SDXL, params, variant: { precision: 'fp16' } });
    expect(result.summary).toContain('fp16 weights, fp32 compute: text_encoder+text_encoder_2+unet (cpu has no fp16 kernels)');
    expect(result.summary).toContain('fp32 vae_decoder+vae_encoder (config force_upcast)');
    expect(images[0]!.height).toBe(48);
  });
});

describe('DeepCache on the SDXL UNet (3 levels, 2 layers per up block, transformer depth 2)', () => {
  const model = readModel(join(SDXL, 'unet', 'model.onnx'));
  it('every branch that exists is placed in front of its up-path layer; past the last, the reason', () => {
    const placed = [0, 1, 3, 4, 6, 7].map((b) => {
      const p = locateBranch(model, b, 'unet');
      return [b, p.upBlock, p.resnet];
    });
    expect(placed).toEqual([[0, 2, 1], [1, 2, 0], [3, 1, 1], [4, 1, 0], [6, 0, 1], [7, 0, 0]]);
    for (const b of [2, 5, 8]) expect(() => locateBranch(model, b, 'unet')).toThrow(`branch ${b} needs layer 2 of up_blocks.${2 - Math.floor(b / 3)}, which has 2 layers`);
    expect(() => locateBranch(model, 9, 'unet')).toThrow('branch 9 needs up block 3 from the outside, but this UNet has 3 up blocks (use a branch < 9)');
  });
});

describe('SD 2.x layout: 768 default size, v-prediction (nothing assumes 512 / SD 1.5)', () => {
  // tiny-sd as an SD 2.x folder: unet sample_size 96 (768 px), a v_prediction DDIM config. A 768 run of tiny-sd
  // takes ~76 s and 6 GB here (its attention at full latent resolution), so the run below is at an explicit small size.
  const cfg = (part: string) => JSON.parse(readFileSync(join(FIXTURE_MODEL, part), 'utf8')) as Record<string, unknown>;
  const dir = modelCopy(FIXTURE_MODEL, { files: {
    'unet/config.json': JSON.stringify({ ...cfg('unet/config.json'), sample_size: 96 }),
    'scheduler/scheduler_config.json': JSON.stringify({ ...cfg('scheduler/scheduler_config.json'), _class_name: 'DDIMScheduler', prediction_type: 'v_prediction', timestep_spacing: 'trailing' }),
  } });
  it('size and scheduler come from the folder', () => {
    const info = inspectModel(dir);
    expect(info.defaultSize).toBe(768);
    expect(checkInputs(info, { prompt: 'a cat', seed: 1 })).toMatchObject({ width: 768, height: 768, scheduler: 'ddim' });
  });
  it('runs end to end with v-prediction, and differs from the epsilon reading of the same UNet', async () => {
    const p = { prompt: 'a cat', seed: 3, steps: 3, width: 96, height: 64 };
    const v = await engine.run({ model: dir, params: p, variant: {} });
    const eps = await engine.run({ model: FIXTURE_MODEL, params: { ...p, scheduler: 'ddim' }, variant: {} });
    expect(v.result.params).toMatchObject({ scheduler: 'ddim', width: 96, height: 64 });
    expect(maxAbsDiff(v.images[0]!.data, eps.images[0]!.data)).toBeGreaterThan(1e-3);
  });
});
