import { decode } from 'fast-png';
import { parseInfotext } from '../../app/infotext';
import type { Inputs } from './inputs';

/** What a dropped PNG gives: the inputs patch, the names of what was loaded, and every field that was not. */
export interface PngInfo {
  patch: Partial<Inputs>;
  loaded: string[];
  other: Record<string, string>;
}

const NAMES: Record<string, string> = {
  prompt: 'prompt', negativePrompt: 'negative prompt', seed: 'seed', steps: 'steps', guidance: 'guidance', width: 'width', height: 'height', scheduler: 'sampler', strength: 'denoising strength',
};

/** A1111's `parameters` chunk (the studio writes the same) into the inputs; a PNG without one is refused clearly. */
export function readPngInfo(bytes: Uint8Array, name: string): PngInfo {
  let text: Record<string, string>;
  try {
    text = decode(bytes).text;
  } catch (e) {
    throw new Error(`${name}: not a readable PNG (${(e as Error).message})`);
  }
  const raw = text.parameters;
  if (!raw) throw new Error(`${name}: no "parameters" text chunk (not saved by A1111 or this studio)${Object.keys(text).length ? `; its text chunks: ${Object.keys(text).join(', ')}` : ''}`);
  const { params, other } = parseInfotext(raw);
  const patch: Partial<Inputs> = { ...params, ...(params.seed !== undefined ? { seedLocked: true } : {}) };
  return { patch, loaded: Object.keys(params).map((k) => NAMES[k] ?? k), other };
}
