import type { SafeTensor } from './safetensors';

/** One low-rank update: ΔW = scale · up @ down for a module of the UNet or the text encoder. */
export interface LoraUpdate {
  component: 'unet' | 'text_encoder';
  /** The module path as the LoRA names it: dotted (PEFT/diffusers) or underscored (kohya). */
  module: string;
  kohya: boolean;
  down: SafeTensor;
  up: SafeTensor;
  alpha?: number;
}

const PATTERNS: [RegExp, (m: RegExpMatchArray) => { module: string; part: 'down' | 'up' | 'alpha'; kohya: boolean }][] = [
  [/^(lora_(?:unet|te)_.+)\.(lora_down|lora_up)\.weight$/, (m) => ({ module: m[1]!, part: m[2] === 'lora_down' ? 'down' : 'up', kohya: true })],
  [/^(lora_(?:unet|te)_.+)\.alpha$/, (m) => ({ module: m[1]!, part: 'alpha', kohya: true })],
  [/^(.+)\.lora_([AB])(?:\.default)?\.weight$/, (m) => ({ module: m[1]!, part: m[2] === 'A' ? 'down' : 'up', kohya: false })],
  [/^(.+)\.lora\.(down|up)\.weight$/, (m) => ({ module: m[1]!, part: m[2] as 'down' | 'up', kohya: false })],
  [/^(.+)\.processor\.(to_[qkv]|to_out)_lora\.(down|up)\.weight$/, (m) => ({ module: `${m[1]}.${m[2] === 'to_out' ? 'to_out.0' : m[2]}`, part: m[3] as 'down' | 'up', kohya: false })],
  [/^(.+)\.alpha$/, (m) => ({ module: m[1]!, part: 'alpha', kohya: false })],
];

/**
 * Groups a LoRA file's tensors into updates, from kohya (`lora_unet_…`, `lora_te_…`) or
 * diffusers/PEFT (`unet.….lora_A.weight`, `text_encoder.…`, older `….processor.to_q_lora.down`) keys.
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
    if (/^lora_te[12]_/.test(module)) throw new Error(`${file}: ${module} is an SDXL text-encoder key (lora_te1/lora_te2); this LoRA is for another architecture`);
    const component = g.kohya ? (module.startsWith('lora_te_') ? 'text_encoder' : 'unet') : module.startsWith('text_encoder.') ? 'text_encoder' : 'unet';
    const name = g.kohya ? module.replace(/^lora_(unet|te)_/, '') : module.replace(/^(unet|text_encoder)\./, '');
    updates.push({ component, module: name, kohya: g.kohya, down: g.down, up: g.up, alpha: g.alpha });
  }
  if (updates.length === 0) throw new Error(`${file}: no LoRA weights in it`);
  return updates;
}
