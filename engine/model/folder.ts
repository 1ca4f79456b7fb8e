import { createHash } from 'node:crypto';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { readJsonFile } from './files';

/**
 * A model folder checked and described without opening any graph: no onnxruntime here, so the
 * Electron main process can validate folders without loading the native runtime.
 */
/** The parts of a diffusers ONNX Stable Diffusion folder the engine runs. */
export const PARTS = ['text_encoder', 'unet', 'vae_decoder', 'vae_encoder'] as const;
export type Part = (typeof PARTS)[number];

export interface ModelInfo {
  dir: string;
  name: string;
  /** Latent channels (UNet input), VAE downsampling, latent scaling: read from the folder's configs. */
  latentChannels: number;
  vaeScaleFactor: number;
  scalingFactor: number;
  /** diffusers' default image size: unet sample_size × VAE scale factor. */
  defaultSize: number;
  schedulerConfig: Record<string, unknown>;
  hasVaeEncoder: boolean;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Reads and checks the folder's configs without opening any graph (cheap; used to list models). */
export function inspectModel(dirIn: string): ModelInfo {
  const dir = resolve(dirIn);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new Error(`${dir}: not a folder (expected a diffusers ONNX model folder)`);
  const index = readJsonFile(join(dir, 'model_index.json'), isObject, 'a JSON object naming the pipeline parts');
  for (const part of ['text_encoder', 'unet', 'vae_decoder', 'tokenizer', 'scheduler']) {
    if (index[part] === undefined && part !== 'tokenizer' && part !== 'scheduler') {
      throw new Error(`${join(dir, 'model_index.json')}: no "${part}" entry (expected the diffusers ONNX layout)`);
    }
  }
  for (const part of ['text_encoder', 'unet', 'vae_decoder'] as const) {
    const f = join(dir, part, 'model.onnx');
    if (!existsSync(f)) throw new Error(`${f}: missing (expected the ${part} ONNX graph)`);
  }
  for (const f of ['vocab.json', 'merges.txt']) {
    const p = join(dir, 'tokenizer', f);
    if (!existsSync(p)) throw new Error(`${p}: missing (expected CLIP BPE tokenizer files)`);
  }
  const schedulerConfig = readJsonFile(join(dir, 'scheduler', 'scheduler_config.json'), isObject, 'a JSON object (diffusers scheduler config)');
  const unetConfig = optionalConfig(join(dir, 'unet', 'config.json'));
  const vaeConfig = optionalConfig(join(dir, 'vae_decoder', 'config.json'));
  const blocks = vaeConfig.block_out_channels;
  const vaeScaleFactor = Array.isArray(blocks) && blocks.length > 0 ? 2 ** (blocks.length - 1) : 8;
  const scalingFactor = typeof vaeConfig.scaling_factor === 'number' ? vaeConfig.scaling_factor : 0.18215;
  const sampleSize = typeof unetConfig.sample_size === 'number' ? unetConfig.sample_size : 64;
  return {
    dir,
    name: basename(dir),
    latentChannels: typeof unetConfig.in_channels === 'number' ? unetConfig.in_channels : 4,
    vaeScaleFactor,
    scalingFactor,
    defaultSize: sampleSize * vaeScaleFactor,
    schedulerConfig,
    hasVaeEncoder: existsSync(join(dir, 'vae_encoder', 'model.onnx')),
  };
}

function optionalConfig(path: string): Record<string, unknown> {
  return existsSync(path) ? readJsonFile(path, isObject, 'a JSON object (component config)') : {};
}

/** SHA-256 of the folder's graphs and configs (names + bytes), short form: identifies a model in history. */
export async function modelHash(dir: string): Promise<string> {
  const h = createHash('sha256');
  const files = ['model_index.json', 'scheduler/scheduler_config.json', 'tokenizer/vocab.json', 'tokenizer/merges.txt',
    ...PARTS.flatMap((p) => [`${p}/model.onnx`, `${p}/model.onnx_data`])];
  for (const f of files) {
    const p = join(dir, f);
    if (!existsSync(p)) continue;
    h.update(f);
    for await (const chunk of createReadStream(p)) h.update(chunk as Buffer);
  }
  return h.digest('hex').slice(0, 12);
}
