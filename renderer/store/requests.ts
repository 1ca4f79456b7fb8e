import type { CompareRequestInput, SweepRequestInput } from '../../app/studio';
import { controlRequest } from './control';
import type { VariantInput } from '../../app/variant';
import type { BlindRequestInput } from '../../app/blind';
import type { StudioState } from './state';
import { toVariant } from './variants';

/** Job ids sort by time and name history folders. */
export function newJobId(now = Date.now()): string {
  const rand = Array.from(crypto.getRandomValues(new Uint8Array(4)), (b) => b.toString(16).padStart(2, '0')).join('');
  return `${now.toString(36)}-${rand}`;
}

/** With an init image the size is the image's (the engine takes it from there; try-on asks for its own) and strength applies. */
function params(s: StudioState, seed: number): CompareRequestInput['params'] {
  const i = s.inputs;
  return {
    // a blank box is no negative prompt: SDXL then zeroes it (diffusers' negative_prompt=None); SD encodes "" either way
    prompt: i.prompt, ...(i.negativePrompt ? { negativePrompt: i.negativePrompt } : {}), seed, steps: i.steps, guidance: i.guidance,
    ...(s.initImage ? { strength: i.strength } : {}),
    ...(!s.initImage || s.tryOn ? { width: i.width, height: i.height } : {}),
    ...(i.scheduler ? { scheduler: i.scheduler } : {}),
    ...(controlRequest(s).controlnet ? { controlnet: controlRequest(s).controlnet } : {}),
  };
}

/** Images travel by reference: the refs of the uploaded init image, mask, garment and control maps, never their bytes. */
const inputs = (s: StudioState): Pick<CompareRequestInput, 'inputs'> => {
  const mask = s.initImage && s.mask && { mask: s.mask.ref, ...(s.garment ? { garment: s.garment.ref } : {}) };
  const all = { ...(s.initImage ? { initImage: s.initImage.ref, ...mask } : {}), ...controlRequest(s).inputs };
  return Object.keys(all).length ? { inputs: all } : {};
};

/** A and B get the very same model, params and seed; only the variants differ. */
export function compareRequest(s: StudioState, jobId: string, seed: number): CompareRequestInput {
  return {
    jobId, model: s.modelDir, params: params(s, seed), ...inputs(s), repeats: s.inputs.repeats, previews: true, reuseA: s.inputs.reuseA,
    ...(s.forkOf ? { parent: s.forkOf.id } : {}),
    a: toVariant(s.a, s.sharedLoras), b: toVariant(s.b, s.sharedLoras),
  };
}

/** The sweep runs on variant A's options with DeepCache swept. */
export function sweepRequest(s: StudioState, jobId: string, seed: number, branches: number[], intervals: number[], repeats: number): SweepRequestInput {
  const base = toVariant({ ...s.a, deepcache: { ...s.a.deepcache, enabled: false } }, s.sharedLoras);
  return { jobId, model: s.modelDir, params: params(s, seed), ...inputs(s), base, branches, intervals, repeats };
}

/** What every job shares: the inputs' params and image refs. */
export const sharedParams = (s: StudioState, seed: number): Pick<CompareRequestInput, 'params' | 'inputs'> => ({ params: params(s, seed), ...inputs(s) });

/** Grids and the matrix vary variant A's options. */
export const baseVariant = (s: StudioState): VariantInput => toVariant(s.a, s.sharedLoras);
/** A blind session on the editors' variants and inputs; each pair's prompt and seed from the lists. */
export function blindRequest(s: StudioState, jobId: string, prompts: string[], seeds: number[]): BlindRequestInput {
  return { jobId, model: s.modelDir, params: params(s, seeds[0] ?? 0), ...inputs(s), prompts, seeds, a: toVariant(s.a, s.sharedLoras), b: toVariant(s.b, s.sharedLoras) };
}
