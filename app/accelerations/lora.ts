import { z } from 'zod';
import { defineAcceleration, fileName } from './descriptor';

export const LoraRef = z.object({ path: z.string().min(1), weight: z.number().min(-4).max(4).default(1) }).strict();
export type LoraRef = z.infer<typeof LoraRef>;

/** `file[:weight]` → a LoRA reference. */
export function parseLoraFlag(s: string): { path: string; weight: number } {
  // text after the last ':' with no path separator in it is the weight (C:\x.safetensors stays a path)
  const m = s.match(/^(.+):([^:/\\]*)$/);
  if (!m) return { path: s, weight: 1 };
  const w = m[2]!.trim() === '' ? NaN : Number(m[2]);
  if (!Number.isFinite(w)) throw new Error(`--lora ${s}: the weight after ":" must be a number, got "${m[2]}"`);
  return { path: m[1]!, weight: w };
}

export const lora = defineAcceleration({
  id: 'lora',
  description: 'a stack of LoRAs (kohya or diffusers/PEFT keys) merged into the UNet and text encoder weights',
  options: { loras: z.array(LoraRef).max(8).default([]) },
  summary: (o) => (o.loras.length ? `LoRA ${o.loras.map((l) => `${fileName(l.path)}@${l.weight}`).join(' + ')}` : ''),
  off: 'no LoRAs',
  editor: {
    fields: [{ kind: 'file-list', key: 'loras', label: 'LoRAs (this side only)', empty: "no LoRAs in this model's loras/ folder", weight: { min: -2, max: 2, step: 0.05 }, shared: true }],
  },
  flags: [{ flags: '--lora <file[:weight]>', help: 'merge a LoRA (repeatable)', parse: parseLoraFlag, repeatable: true, apply: (loras: unknown[]) => ({ loras }) }],
});
