import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { checkSchedulerConfig } from '../schedulers/registry';
import { readJsonFile } from './files';

/**
 * A diffusers folder's parts as data: model_index.json names them, each lives in its own folder
 * with its config. No onnxruntime here (the Electron main process inspects folders too).
 */
/** In the order accelerations see them (their summaries list parts in this order). */
export const GRAPH_COMPONENTS = ['text_encoder', 'text_encoder_2', 'unet', 'vae_decoder', 'vae_encoder', 'controlnet'] as const;
/** The UNet and the graphs accelerations add beside it (DeepCache's unet_shallow, CFG truncation's twins): what the denoiser routes to. */
export const isUnetGraph = (name: string): boolean => name === 'unet' || !(GRAPH_COMPONENTS as readonly string[]).includes(name);
export const TOKENIZER_COMPONENTS = ['tokenizer', 'tokenizer_2'] as const;
export type GraphComponent = (typeof GRAPH_COMPONENTS)[number];
export type ComponentName = GraphComponent | (typeof TOKENIZER_COMPONENTS)[number] | 'scheduler';

export interface Component {
  name: ComponentName;
  kind: 'graph' | 'tokenizer' | 'scheduler';
  dir: string;
  /** The ONNX graph (graphs only). */
  file?: string;
  /** Its config (config.json, scheduler_config.json), read once; {} when it has none (tokenizers: their loader reads their files). */
  config: Record<string, unknown>;
}

export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const KIND: Record<ComponentName, Component['kind']> = {
  ...Object.fromEntries(GRAPH_COMPONENTS.map((c) => [c, 'graph' as const])),
  ...Object.fromEntries(TOKENIZER_COMPONENTS.map((c) => [c, 'tokenizer' as const])),
  scheduler: 'scheduler',
} as Record<ComponentName, Component['kind']>;

/**
 * The components model_index.json names (entries `[library, class]`; `[null, null]` means absent,
 * as for a dropped safety checker), plus known ones it does not name whose folder holds their files
 * (exporters name the VAE `vae` but write vae_decoder/ and vae_encoder/). Every named component
 * must be on disk: the error names the file.
 */
export function readComponents(dir: string, index: Record<string, unknown>): Partial<Record<ComponentName, Component>> {
  const out: Partial<Record<ComponentName, Component>> = {};
  for (const name of Object.keys(KIND) as ComponentName[]) {
    const entry = index[name];
    const named = Array.isArray(entry) && entry[0] !== null;
    if (named || (entry === undefined && existsSync(join(dir, name, MAIN_FILE[KIND[name]])))) out[name] = readComponent(dir, name);
  }
  return out;
}

const MAIN_FILE: Record<Component['kind'], string> = { graph: 'model.onnx', tokenizer: 'vocab.json', scheduler: 'scheduler_config.json' };

function readComponent(dir: string, name: ComponentName): Component {
  const kind = KIND[name], cdir = join(dir, name);
  const file = kind === 'graph' ? join(cdir, 'model.onnx') : undefined;
  if (file && !existsSync(file)) throw new Error(`${file}: missing (expected the ${name} ONNX graph)`);
  if (kind === 'tokenizer') {
    for (const f of ['vocab.json', 'merges.txt']) {
      if (!existsSync(join(cdir, f))) throw new Error(`${join(cdir, f)}: missing (expected CLIP BPE tokenizer files)`);
    }
  }
  let config: Record<string, unknown> = {};
  if (kind === 'scheduler') {
    const path = join(cdir, 'scheduler_config.json');
    config = readJsonFile(path, isObject, 'a JSON object (diffusers scheduler config)');
    checkSchedulerConfig(config, path); // ranges refused here, before any session loads
  }
  else if (kind === 'graph' && existsSync(join(cdir, 'config.json'))) config = readJsonFile(join(cdir, 'config.json'), isObject, 'a JSON object (component config)');
  return { name, kind, dir: cdir, file, config };
}

/** A number from a config, or the diffusers default. */
export const num = (config: Record<string, unknown>, key: string, fallback: number): number => {
  const v = config[key];
  return typeof v === 'number' ? v : fallback;
};

/** 2^(len(block_out_channels) - 1): how much a UNet or VAE downsamples (diffusers' vae_scale_factor). */
export function downsampling(config: Record<string, unknown>, fallback: number): number {
  const blocks = config.block_out_channels;
  return Array.isArray(blocks) && blocks.length > 0 ? 2 ** (blocks.length - 1) : fallback;
}
