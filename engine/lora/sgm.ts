import { join } from 'node:path';
import { isObject } from '../model/components';
import { readJsonFile } from '../model/files';
import type { LoraUpdate } from './keys';

/**
 * kohya's SDXL trainer names UNet modules as Stability's generative-models (SGM) UNet does:
 * `input_blocks_N_i_…`, `middle_block_i_…`, `output_blocks_N_i_…`, `time_embed_0`, `label_emb_0_0`,
 * `out_2`. These map to diffusers module paths by the UNet's layout (diffusers'
 * `_maybe_map_sgm_blocks_to_diffusers` + `_convert_unet_lora_key`): input block 0 is conv_in; then each
 * level has its layers (sub-module 0 a resnet, 1 its transformer) and, below the last level, a
 * downsampler (`…_0_op`); the middle block is resnet, transformer, resnet; output blocks run from the
 * deepest level, layers_per_block + 1 per level, sub-module 0 a resnet, 1 the transformer where the
 * level has attention, and the next one the upsampler (`…_conv`) on the level's last layer.
 */
export interface UNetLayout {
  /** Per down level: layers and whether it has attention; up levels are the same reversed, one layer more. */
  down: { layers: number; attention: boolean }[];
  up: { layers: number; attention: boolean }[];
  /** 'attention' (resnet, transformer, resnet), 'resnet' (UNetMidBlock2D: one resnet), or none. */
  mid: 'attention' | 'resnet' | 'none';
}

const SGM = /^(?:input_blocks|middle_block|output_blocks)_/;
/** Top-level modules outside the block structure (diffusers' list); only mapped in a file with SGM blocks. */
const TOP: [RegExp, string][] = [
  [/^input_blocks_0_0$/, 'conv_in'], [/^out_2$/, 'conv_out'],
  [/^time_embed_0$/, 'time_embedding_linear_1'], [/^time_embed_2$/, 'time_embedding_linear_2'],
  [/^label_emb_0_0$/, 'add_embedding_linear_1'], [/^label_emb_0_2$/, 'add_embedding_linear_2'],
];
/** SGM ResBlock parts → diffusers ResnetBlock2D's. */
const RESNET: Record<string, string> = {
  in_layers_0: 'norm1', in_layers_2: 'conv1', emb_layers_1: 'time_emb_proj', out_layers_0: 'norm2', out_layers_3: 'conv2', skip_connection: 'conv_shortcut',
};

export function unetLayout(config: Record<string, unknown>, where: string): UNetLayout {
  const types = (k: string): string[] => {
    const v = config[k];
    if (!Array.isArray(v) || !v.every((t) => typeof t === 'string')) throw new Error(`${where}: ${k} is not a list of block names`);
    return v as string[];
  };
  const down = types('down_block_types'), up = types('up_block_types');
  const lpb = config.layers_per_block ?? 2;
  const layers = Array.isArray(lpb) ? lpb : down.map(() => lpb);
  if (layers.length !== down.length || !layers.every((n) => Number.isInteger(n) && (n as number) >= 0) || up.length !== down.length) {
    throw new Error(`${where}: layers_per_block ${JSON.stringify(lpb)} does not fit ${down.length} down and ${up.length} up blocks`);
  }
  const attn = (t: string): boolean => t.includes('Attn');
  const midType = config.mid_block_type === undefined ? 'UNetMidBlock2DCrossAttn' : config.mid_block_type;
  const rev = [...layers].reverse() as number[];
  return {
    down: down.map((t, i) => ({ layers: layers[i] as number, attention: attn(t) })),
    up: up.map((t, i) => ({ layers: rev[i]! + 1, attention: attn(t) })),
    mid: midType === null ? 'none' : typeof midType === 'string' && attn(midType) ? 'attention' : 'resnet',
  };
}

/** One SGM module name (kohya's underscores, no lora_unet_ prefix) as a diffusers path in the same spelling; undefined if the layout has no such module. */
export function sgmToDiffusers(module: string, u: UNetLayout): string | undefined {
  const top = TOP.find(([re]) => re.test(module));
  if (top) return top[1];
  const resnet = (block: string, i: number, rest: string): string | undefined => (RESNET[rest] ? `${block}_resnets_${i}_${RESNET[rest]}` : undefined);
  let m = /^input_blocks_(\d+)_(\d+)_(.+)$/.exec(module);
  if (m) {
    let n = Number(m[1]) - 1;
    const sub = Number(m[2]), rest = m[3]!;
    for (const [level, l] of u.down.entries()) {
      const last = level === u.down.length - 1;
      if (n < l.layers) {
        if (sub === 0) return resnet(`down_blocks_${level}`, n, rest);
        return sub === 1 && l.attention ? `down_blocks_${level}_attentions_${n}_${rest}` : undefined;
      }
      if (n === l.layers && !last) return sub === 0 && rest === 'op' ? `down_blocks_${level}_downsamplers_0_conv` : undefined;
      n -= l.layers + (last ? 0 : 1);
    }
    return undefined;
  }
  m = /^middle_block_(\d+)_(.+)$/.exec(module);
  if (m) {
    const [i, rest] = [Number(m[1]), m[2]!];
    if (u.mid === 'attention') return i === 1 ? `mid_block_attentions_0_${rest}` : i === 0 || i === 2 ? resnet('mid_block', i / 2, rest) : undefined;
    return u.mid === 'resnet' && i === 0 ? resnet('mid_block', 0, rest) : undefined;
  }
  m = /^output_blocks_(\d+)_(\d+)_(.+)$/.exec(module);
  if (m) {
    let n = Number(m[1]);
    const sub = Number(m[2]), rest = m[3]!;
    for (const [level, l] of u.up.entries()) {
      if (n < l.layers) {
        if (sub === 0) return resnet(`up_blocks_${level}`, n, rest);
        if (sub === 1 && l.attention) return `up_blocks_${level}_attentions_${n}_${rest}`;
        const upsampler = sub === (l.attention ? 2 : 1) && n === l.layers - 1 && level < u.up.length - 1;
        return upsampler && rest === 'conv' ? `up_blocks_${level}_upsamplers_0_conv` : undefined;
      }
      n -= l.layers;
    }
  }
  return undefined;
}

/**
 * A kohya LoRA's UNet updates with SGM names, renamed to diffusers paths for the folder's UNet (read
 * from unet/config.json only when the file has SGM names). A name with no module in this layout, or a
 * file mixing SGM and diffusers block names, is refused with the names.
 */
export function mapSgmNames(updates: LoraUpdate[], file: string, modelDir: string): LoraUpdate[] {
  const unet = updates.filter((u) => u.component === 'unet' && u.kohya);
  if (!unet.some((u) => SGM.test(u.module))) return updates;
  const mixed = unet.filter((u) => /^(?:down_blocks|mid_block|up_blocks)_/.test(u.module));
  if (mixed.length) {
    throw new Error(`${file}: mixes SGM block names (input_blocks_/middle_block_/output_blocks_) with diffusers ones (e.g. lora_unet_${mixed[0]!.module}); one file uses one naming`);
  }
  const at = join(modelDir, 'unet', 'config.json');
  const layout = unetLayout(readJsonFile(at, isObject, 'a UNet config'), at);
  const bad: string[] = [];
  const out = updates.map((u) => {
    if (u.component !== 'unet' || !u.kohya) return u;
    const module = sgmToDiffusers(u.module, layout);
    if (module === undefined) bad.push(`${u.prefix}${u.module}`);
    return { ...u, module: module ?? u.module };
  });
  if (bad.length) {
    const shape = `${layout.down.length} levels, layers_per_block ${layout.down.map((l) => l.layers).join('/')}, attention at ${layout.down.map((l) => (l.attention ? 'y' : 'n')).join('/')}`;
    throw new Error(`${file}: ${bad.length} SGM (kohya SDXL) UNet names match no module of ${at} (${shape}): ${bad.slice(0, 6).join(', ')}${bad.length > 6 ? ', …' : ''}`);
  }
  return out;
}
