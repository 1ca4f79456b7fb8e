import type { ResolvedParams } from '../pipeline/check-inputs';

/** A1111's sampler names, so other tools read our PNGs' parameters. */
const SAMPLER: Record<string, string> = {
  pndm: 'PLMS', ddim: 'DDIM', euler: 'Euler', 'euler-a': 'Euler a', 'dpmpp-2m': 'DPM++ 2M', 'dpmpp-2m-karras': 'DPM++ 2M Karras', lcm: 'LCM',
};

/** The `parameters` text chunk in A1111's layout: prompt, negative prompt, then "Key: value" pairs. */
export function infotext(p: ResolvedParams, extra: Record<string, string | number> = {}): string {
  const pairs: Record<string, string | number> = {
    Steps: p.steps,
    Sampler: SAMPLER[p.scheduler] ?? p.scheduler,
    'CFG scale': p.guidance,
    Seed: p.seed,
    Size: `${p.width}x${p.height}`,
    ...(p.strength !== undefined ? { 'Denoising strength': p.strength } : {}),
    ...controlnetInfo(p),
    ...extra,
  };
  const kv = Object.entries(pairs).map(([k, v]) => `${k}: ${quote(String(v))}`).join(', ');
  return [p.prompt, ...(p.negativePrompt ? [`Negative prompt: ${p.negativePrompt}`] : []), kv].join('\n');
}

function quote(v: string): string {
  return /[,:\n"]/.test(v) ? JSON.stringify(v) : v;
}

/** A1111's ControlNet entries ("ControlNet 0: ..."), one per unit. */
function controlnetInfo(p: ResolvedParams): Record<string, string> {
  return Object.fromEntries((p.controlnet?.units ?? []).map((u, i) => [`ControlNet ${i}`,
    `Module: ${u.preprocess === 'canny' ? `canny (${u.low}, ${u.high})` : 'none'}, Model: ${u.dir ?? 'controlnet'}, Weight: ${u.scale}, Guidance Start: ${u.start}, Guidance End: ${u.end}`]));
}
