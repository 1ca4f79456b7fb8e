import { mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { inspectModel, loadModel } from '../../engine/model/model';
import { generate } from '../../engine/pipeline/generate';
import { pipelineFor } from '../../engine/pipeline/pipelines/registry';
import { FIXTURE_MODEL } from '../parity/reference';

const temps: string[] = [];
afterEach(() => temps.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A copy of the fixture folder (files linked), with `edit` applied: relative path -> content, or null to delete. */
function folder(edit: Record<string, string | null>): string {
  const dir = mkdtempSync(join(tmpdir(), 'sd-folder-'));
  temps.push(dir);
  const walk = (rel: string): void => {
    for (const e of readdirSync(join(FIXTURE_MODEL, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        mkdirSync(join(dir, r));
        walk(r);
      } else if (!(r in edit)) symlinkSync(join(FIXTURE_MODEL, r), join(dir, r));
    }
  };
  walk('');
  for (const [r, content] of Object.entries(edit)) if (content !== null) writeFileSync(join(dir, r), content);
  return dir;
}

describe('model folder loader: every missing or malformed part is named', () => {
  it('reads sizes and factors from the configs', () => {
    const m = inspectModel(FIXTURE_MODEL);
    expect(m).toMatchObject({ latentChannels: 4, vaeScaleFactor: 8, scalingFactor: 0.18215, defaultSize: 64, hasVaeEncoder: true });
  });
  it('not a folder', () => {
    expect(() => inspectModel('/nonexistent/model')).toThrow('/nonexistent/model: not a folder (expected a diffusers ONNX model folder)');
  });
  it('missing model_index.json', () => {
    expect(() => inspectModel(folder({ 'model_index.json': null }))).toThrow(/model_index\.json: missing \(expected a JSON object naming the pipeline parts\)/);
  });
  it('malformed model_index.json', () => {
    expect(() => inspectModel(folder({ 'model_index.json': '{"unet": [' }))).toThrow(/model_index\.json: malformed JSON .*expected a JSON object/);
  });
  it('missing unet graph', () => {
    expect(() => inspectModel(folder({ 'unet/model.onnx': null }))).toThrow(/unet\/model\.onnx: missing \(expected the unet ONNX graph\)/);
  });
  it('missing tokenizer merges', () => {
    expect(() => inspectModel(folder({ 'tokenizer/merges.txt': null }))).toThrow(/tokenizer\/merges\.txt: missing \(expected CLIP BPE tokenizer files\)/);
  });
  it('malformed scheduler config', () => {
    expect(() => inspectModel(folder({ 'scheduler/scheduler_config.json': '[1,2]' }))).toThrow(/scheduler_config\.json: expected a JSON object \(diffusers scheduler config\)/);
  });
  it('vocab without the end token', async () => {
    await expect(loadModel(folder({ 'tokenizer/vocab.json': '{"a": 0}' }))).rejects.toThrow(/vocab\.json: bos_token "<\|startoftext\|>" is not in the vocabulary/);
  });
  it('a corrupt graph: names the file and releases the graphs already opened', async () => {
    await expect(loadModel(folder({ 'vae_decoder/model.onnx': 'not a protobuf' }))).rejects.toThrow(/vae_decoder\/model\.onnx: onnxruntime could not load it/);
  });
  it('an ONNX graph without the expected inputs', async () => {
    const dir = folder({ 'text_encoder/model.onnx': null });
    symlinkSync(join(FIXTURE_MODEL, 'vae_decoder/model.onnx'), join(dir, 'text_encoder/model.onnx'));
    const m = await loadModel(dir);
    try {
      await expect(generate(m, { prompt: 'x', seed: 0, steps: 1 })).rejects.toThrow('text_encoder/model.onnx: expected an input named "input_ids" (found latent_sample)');
    } finally {
      await m.release();
    }
  });
  it('components come from model_index.json, each with its config', () => {
    const m = inspectModel(FIXTURE_MODEL);
    expect(m.className).toBe('OnnxStableDiffusionPipeline');
    expect(Object.keys(m.components).sort()).toEqual(['scheduler', 'text_encoder', 'tokenizer', 'unet', 'vae_decoder', 'vae_encoder']);
    expect(m.components.unet).toMatchObject({ kind: 'graph', file: join(FIXTURE_MODEL, 'unet', 'model.onnx'), config: { in_channels: 4, cross_attention_dim: 32 } });
    expect(m.components.vae_decoder!.config).toMatchObject({ latent_channels: 4 });
    expect(m.unetDownsampling).toBe(4);
  });
  it('VAE latent channels and UNet input channels are read apart (an inpainting UNet has 9)', async () => {
    const unet = JSON.parse(readFileSync(join(FIXTURE_MODEL, 'unet', 'config.json'), 'utf8'));
    const dir = folder({ 'unet/config.json': JSON.stringify({ ...unet, in_channels: 9 }) });
    expect(inspectModel(dir)).toMatchObject({ latentChannels: 4, unetInChannels: 9 });
    const m = await loadModel(dir);
    try {
      await expect(generate(m, { prompt: 'x', seed: 0, steps: 1 })).rejects.toThrow('unet/config.json: in_channels 9 but the VAE\'s latents have 4 channels');
    } finally {
      await m.release();
    }
  });
  it('a component model_index.json names but the folder lacks', () => {
    const index = JSON.parse(readFileSync(join(FIXTURE_MODEL, 'model_index.json'), 'utf8'));
    const dir = folder({ 'model_index.json': JSON.stringify({ ...index, text_encoder_2: ['transformers', 'CLIPTextModelWithProjection'] }) });
    expect(() => inspectModel(dir)).toThrow(/text_encoder_2\/model\.onnx: missing \(expected the text_encoder_2 ONNX graph\)/);
  });
  it('a component the pipeline needs and the folder does not have', () => {
    const { unet: _, ...index } = JSON.parse(readFileSync(join(FIXTURE_MODEL, 'model_index.json'), 'utf8'));
    const dir = folder({ 'model_index.json': JSON.stringify({ ...index, vae: ['diffusers', 'AutoencoderKL'] }) });
    // a graph folder the index does not name still counts (exporters name the VAE "vae")
    expect(Object.keys(inspectModel(dir).components)).toContain('unet');
    rmSync(join(dir, 'unet'), { recursive: true });
    expect(() => pipelineFor(inspectModel(dir))).toThrow(`${dir}: the sd (OnnxStableDiffusionPipeline) pipeline needs "unet", which the folder does not have`);
    // named as absent ([null, null], as a dropped safety checker is): absent even with the folder there
    const off = folder({ 'model_index.json': JSON.stringify({ ...index, unet: [null, null] }) });
    expect(() => pipelineFor(inspectModel(off))).toThrow('needs "unet"');
  });
  it('an unknown pipeline class lists the known ones', () => {
    const index = JSON.parse(readFileSync(join(FIXTURE_MODEL, 'model_index.json'), 'utf8'));
    const dir = folder({ 'model_index.json': JSON.stringify({ ...index, _class_name: 'FluxPipeline' }) });
    expect(() => pipelineFor(inspectModel(dir))).toThrow('model_index.json _class_name "FluxPipeline"; the engine runs OnnxStableDiffusionPipeline, StableDiffusionPipeline, ORTStableDiffusionPipeline, OnnxStableDiffusionControlNetPipeline, ORTStableDiffusionXLPipeline');
  });
});
