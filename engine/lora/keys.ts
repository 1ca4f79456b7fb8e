import type { SafeTensor } from './safetensors';

/** One low-rank update: ΔW = scale · up @ down for a module of the UNet or a text encoder. */
export interface LoraUpdate {
  /** text_encoder_2: SDXL's second encoder (kohya lora_te2_, PEFT text_encoder_2.). */
  component: 'unet' | 'text_encoder' | 'text_encoder_2';
  /** The file's key prefix, to name it in errors (lora_te1_, text_encoder_2., ...). */
  prefix: string;
  /** The module path as the LoRA names it: dotted (PEFT/diffusers) or underscored (kohya). */
  module: string;
  kohya: boolean;
  down: SafeTensor;
  up: SafeTensor;
  alpha?: number;
}

const PATTERNS: [RegExp, (m: RegExpMatchArray) => { module: string; part: 'down' | 'up' | 'alpha'; kohya: boolean }][] = [
  [/^(lora_(?:unet|te[12]?)_.+)\.(lora_down|lora_up)\.weight$/, (m) => ({ module: m[1]!, part: m[2] === 'lora_down' ? 'down' : 'up', kohya: true })],
  [/^(lora_(?:unet|te[12]?)_.+)\.alpha$/, (m) => ({ module: m[1]!, part: 'alpha', kohya: true })],
  [/^(.+)\.lora_([AB])(?:\.default)?\.weight$/, (m) => ({ module: m[1]!, part: m[2] === 'A' ? 'down' : 'up', kohya: false })],
  [/^(.+)\.lora\.(down|up)\.weight$/, (m) => ({ module: m[1]!, part: m[2] as 'down' | 'up', kohya: false })],
  [/^(.+)\.processor\.(to_[qkv]|to_out)_lora\.(down|up)\.weight$/, (m) => ({ module: `${m[1]}.${m[2] === 'to_out' ? 'to_out.0' : m[2]}`, part: m[3] as 'down' | 'up', kohya: false })],
  [/^(.+)\.alpha$/, (m) => ({ module: m[1]!, part: 'alpha', kohya: false })],
];

/** Which graph each key prefix names; PEFT keys without a prefix are the UNet's. */
const COMPONENT: Record<string, LoraUpdate['component']> = {
  lora_unet_: 'unet', lora_te_: 'text_encoder', lora_te1_: 'text_encoder', lora_te2_: 'text_encoder_2',
  'unet.': 'unet', 'text_encoder.': 'text_encoder', 'text_encoder_2.': 'text_encoder_2',
};

/**
 * Groups a LoRA file's tensors into updates, from kohya (`lora_unet_…`, `lora_te_…`, SDXL's `lora_te1_…`/`lora_te2_…`)
 * or diffusers/PEFT (`unet.….lora_A.weight`, `text_encoder.…`, `text_encoder_2.…`, older `….processor.to_q_lora.down`) keys.
 * Keys of no known form are an error listing them, never silently dropped.
 */
export function parseLora(file: string, tensors: Map<string, SafeTensor>): LoraUpdate[] {
  const groups = new Map<string, { kohya: boolean; down?: SafeTensor; up?: SafeTensor; alpha?: number }>();
  const unknown: string[] = [];
  for (const [key, t] of tensors) {
    const hit = PATTERNS.map(([re, f]) => (key.match(re) ? f(key.match(re)!) : undefined)).find(Boolean);
    if (!hit) {
      unknown.push(key);
      continue;
    }
    const g = groups.get(hit.module) ?? { kohya: hit.kohya };
    if (hit.part === 'alpha' && t.data.length !== 1) throw new Error(`${file}: ${key} holds ${t.data.length} values; an alpha is one number`);
    if (hit.part === 'alpha') g.alpha = t.data[0];
    else g[hit.part] = t;
    groups.set(hit.module, g);
  }
  if (unknown.length) throw new Error(`${file}: ${unknown.length} keys are not LoRA weights of a known format (kohya or diffusers/PEFT): ${unknown.slice(0, 8).join(', ')}${unknown.length > 8 ? ', …' : ''}`);
  const updates: LoraUpdate[] = [];
  for (const [module, g] of groups) {
    if (!g.down || !g.up) throw new Error(`${file}: ${module} has ${g.down ? 'no up' : 'no down'} matrix`);
    const rank = g.down.shape[0], upRank = g.up.shape[1];
    if (g.down.shape.length < 2 || g.up.shape.length < 2 || !rank || rank !== upRank) {
      throw new Error(`${file}: ${module} has down [${g.down.shape}] and up [${g.up.shape}]; a LoRA pair is down [rank, in, …] and up [out, rank, …] with one rank ≥ 1`);
    }
    const prefix = (g.kohya ? /^lora_(?:unet|te[12]?)_/ : /^(?:unet|text_encoder(?:_2)?)\./).exec(module)?.[0] ?? '';
    updates.push({ component: COMPONENT[prefix] ?? 'unet', prefix, module: module.slice(prefix.length), kohya: g.kohya, down: g.down, up: g.up, alpha: g.alpha });
  }
  if (updates.length === 0) throw new Error(`${file}: no LoRA weights in it`);
  return updates;
}
