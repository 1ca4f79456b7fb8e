import { createHash } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { readFileChunks } from '../io/read-file';
import { basename, join, resolve } from 'node:path';
import { downsampling, isObject, num, readComponents, type Component, type ComponentName } from './components';
import { readJsonFile } from './files';
import { resolveUserPath } from '../io/paths';

/**
 * A model folder checked and described without opening any graph: no onnxruntime here, so the
 * Electron main process can validate folders without loading the native runtime.
 */
export interface ModelInfo {
  dir: string;
  name: string;
  /** model_index.json's `_class_name`: which pipeline runs the folder. */
  className: string;
  /** The components model_index.json names, each with its config (read once, here). */
  components: Partial<Record<ComponentName, Component>>;
  /** Latent channels (the VAE's latent_channels) and the UNet's input channels: 9 on an inpainting UNet. */
  latentChannels: number;
  unetInChannels: number;
  /** VAE downsampling, and the UNet's own (latents must divide by it for the skip connections). */
  vaeScaleFactor: number;
  unetDownsampling: number;
  scalingFactor: number;
  /** diffusers' default image size: unet sample_size × VAE scale factor. */
  defaultSize: number;
  schedulerConfig: Record<string, unknown>;
  hasVaeEncoder: boolean;
  /** model_index.json's own settings (not components): force_zeros_for_empty_prompt, requires_aesthetics_score. */
  pipelineConfig: Record<string, unknown>;
  /** The guidance the model is best at, from the folder's optional studio.json (the CLI's and studio's default). */
  recommendedGuidance?: number;
  /** ControlNet folders made for this model: its controlnet* subfolders and those its studio.json lists. */
  controlnetDirs: string[];
}

/** studio.json: hints a model folder may carry for this studio (diffusers ignores the file). */
function readStudioHints(dir: string): { guidance?: number; controlnets: string[] } {
  const file = join(dir, 'studio.json');
  if (!existsSync(file)) return { controlnets: [] };
  const hints = readJsonFile(file, isObject, 'a JSON object such as {"guidance": 3}');
  const g = hints.guidance;
  if (g !== undefined && (typeof g !== 'number' || !Number.isFinite(g) || g < 0 || g > 100)) throw new Error(`${file}: "guidance" must be a number from 0 to 100, not ${JSON.stringify(g)}`);
  // ControlNets trained for this model but kept beside its folder (so the folder stays the base model + LoRAs)
  const cn = hints.controlnets ?? [];
  if (!Array.isArray(cn) || cn.some((d) => typeof d !== 'string')) throw new Error(`${file}: "controlnets" must be a list of folder paths (relative to the model folder), not ${JSON.stringify(cn)}`);
  const controlnets = (cn as string[]).map((d) => resolve(dir, d));
  for (const d of controlnets) if (!existsSync(join(d, 'model.onnx'))) throw new Error(`${file}: "controlnets" names ${d}, which has no model.onnx (expected a ControlNet ONNX folder)`);
  return { guidance: g, controlnets };
}

/** Reads and checks the folder's configs without opening any graph (cheap; used to list models). */
export function inspectModel(dirIn: string): ModelInfo {
  const dir = resolveUserPath(dirIn);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new Error(`${dir}: not a folder (expected a diffusers ONNX model folder)`);
  const index = readJsonFile(join(dir, 'model_index.json'), isObject, 'a JSON object naming the pipeline parts');
  const components = readComponents(dir, index);
  const unet = components.unet?.config ?? {};
  // diffusers reads the VAE's config for latents and scaling, the UNet's for its own inputs
  const vae = components.vae_decoder?.config ?? components.vae_encoder?.config ?? {};
  const vaeScaleFactor = downsampling(vae, 8);
  const hints = readStudioHints(dir);
  const inside = readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && /^controlnet/.test(d.name) && existsSync(join(dir, d.name, 'model.onnx'))).map((d) => join(dir, d.name));
  return {
    dir,
    name: basename(dir),
    className: typeof index._class_name === 'string' ? index._class_name : '',
    components,
    latentChannels: num(vae, 'latent_channels', 4),
    unetInChannels: num(unet, 'in_channels', 4),
    vaeScaleFactor,
    unetDownsampling: downsampling(unet, 1),
    scalingFactor: num(vae, 'scaling_factor', 0.18215),
    defaultSize: num(unet, 'sample_size', 64) * vaeScaleFactor,
    schedulerConfig: components.scheduler?.config ?? {},
    hasVaeEncoder: components.vae_encoder !== undefined,
    pipelineConfig: Object.fromEntries(Object.entries(index).filter(([k, v]) => !k.startsWith('_') && !Array.isArray(v))),
    recommendedGuidance: hints.guidance,
    controlnetDirs: [...new Set([...inside, ...hints.controlnets])].sort((a, b) => basename(a).localeCompare(basename(b))),
  };
}

/** The error for a component a pipeline needs and the folder lacks: names it and the folder. */
export function requireComponents(info: ModelInfo, needed: readonly ComponentName[], pipeline: string): void {
  const missing = needed.filter((c) => !info.components[c]);
  if (missing.length) {
    throw new Error(`${info.dir}: the ${pipeline} pipeline needs ${missing.map((c) => `"${c}"`).join(', ')}, which the folder does not have (model_index.json does not name it and there is no ${missing[0]}/ folder; expected the diffusers ONNX layout)`);
  }
}

/** Hash order (kept from the fixed-parts days, so existing folders keep their hash). */
const HASH_ORDER: ComponentName[] = ['scheduler', 'tokenizer', 'tokenizer_2', 'text_encoder', 'text_encoder_2', 'unet', 'vae_decoder', 'vae_encoder', 'controlnet'];

/** The last hash computed per folder in this process, with its files' (path, size, mtime, inode). */
const hashes = new Map<string, { key: string; hash: string }>();

/**
 * SHA-256 of the folder's graphs and configs (names + bytes), short form: identifies a model in
 * history. Remembered per folder while no hashed file changes (each variant's preparation asks;
 * re-reading an SD1.5 folder's weights took 5.4 s).
 */
export async function modelHash(info: ModelInfo): Promise<string> {
  const files = ['model_index.json', ...HASH_ORDER.flatMap((n) => (info.components[n] ? componentFiles(info.components[n]) : []))]
    .map((f) => ({ f, p: join(info.dir, f) }))
    .filter(({ p }) => existsSync(p));
  const key = JSON.stringify(files.map(({ p }) => {
    const st = statSync(p);
    return [p, st.size, st.mtimeMs, st.ino];
  }));
  const known = hashes.get(info.dir);
  if (known?.key === key) return known.hash;
  const h = createHash('sha256');
  for (const { f, p } of files) {
    h.update(f);
    for await (const chunk of readFileChunks(p, { maxBytes: Infinity, expected: 'a model file', allowEmpty: true })) h.update(chunk);
  }
  const hash = h.digest('hex').slice(0, 12);
  hashes.set(info.dir, { key, hash });
  return hash;
}

/** A component's hashed files, relative to the model folder. */
function componentFiles(c: Component): string[] {
  if (c.kind === 'graph') return [`${c.name}/model.onnx`, `${c.name}/model.onnx_data`];
  if (c.kind === 'scheduler') return ['scheduler/scheduler_config.json'];
  return [`${c.name}/vocab.json`, `${c.name}/merges.txt`];
}
