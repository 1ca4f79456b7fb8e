/**
 * The PNG `parameters` text chunk in A1111's layout (prompt, "Negative prompt: …", then "Key: value"
 * pairs): written by the engine into every PNG it saves, read back by the studio's PNG-info drop.
 * One definition for both directions. Pure (the `common` layer).
 */
import type { ResolvedParams, SchedulerName } from './contract';

/** A1111's sampler names, so other tools read our PNGs' parameters (and we read theirs). */
const SAMPLER: Record<SchedulerName, string> = {
  pndm: 'PLMS', ddim: 'DDIM', euler: 'Euler', 'euler-a': 'Euler a', 'dpmpp-2m': 'DPM++ 2M', 'dpmpp-2m-karras': 'DPM++ 2M Karras', lcm: 'LCM',
};
const BY_SAMPLER = new Map(Object.entries(SAMPLER).map(([k, v]) => [v.toLowerCase(), k as SchedulerName]));

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

/** A1111's ControlNet entries ("ControlNet 0: ..."), one per unit. */
function controlnetInfo(p: ResolvedParams): Record<string, string> {
  return Object.fromEntries((p.controlnet?.units ?? []).map((u, i) => [`ControlNet ${i}`,
    `Module: ${u.preprocess === 'canny' ? `canny (${u.low}, ${u.high})` : 'none'}, Model: ${u.dir ?? 'controlnet'}, Weight: ${u.scale}, Guidance Start: ${u.start}, Guidance End: ${u.end}`]));
}

function quote(v: string): string {
  return /[,:\n"]/.test(v) ? JSON.stringify(v) : v;
}

/** What a PNG's infotext gives the inputs; `other` holds every pair not loaded (shown, not dropped). */
export interface ParsedInfotext {
  params: Partial<Pick<ResolvedParams, 'prompt' | 'negativePrompt' | 'seed' | 'steps' | 'guidance' | 'width' | 'height' | 'scheduler' | 'strength'>>;
  other: Record<string, string>;
}

/** A1111's own pair pattern (modules/infotext_utils.py): a value is quoted JSON or runs to the next comma. */
const PAIR = /\s*([\w][\w \-/+]*):\s*("(?:\\.|[^\\"])*"|[^,]*)(?:,|$)/g;
const KV_LINE = /^\s*Steps:\s*\d/;

export function parseInfotext(text: string): ParsedInfotext {
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  let kvAt = lines.length - 1;
  while (kvAt >= 0 && !KV_LINE.test(lines[kvAt]!)) kvAt--;
  if (kvAt < 0) throw new Error('infotext: no "Steps: …" line: not A1111 or studio parameters');
  const head = lines.slice(0, kvAt);
  const neg = head.findIndex((l) => l.startsWith('Negative prompt:'));
  const prompt = (neg < 0 ? head : head.slice(0, neg)).join('\n').trim();
  const negativePrompt = neg < 0 ? '' : head.slice(neg).join('\n').slice('Negative prompt:'.length).trim();
  const pairs: Record<string, string> = {};
  for (const m of lines.slice(kvAt).join(', ').matchAll(PAIR)) {
    if (!m[1]) continue;
    const raw = m[2]!.trim();
    pairs[m[1].trim()] = raw.startsWith('"') ? unquote(raw) : raw;
  }
  const params: ParsedInfotext['params'] = { prompt, negativePrompt };
  const other: Record<string, string> = {};
  const take: Record<string, (v: string) => boolean> = {
    Steps: (v) => set('steps', int(v)),
    Seed: (v) => set('seed', int(v)),
    'CFG scale': (v) => set('guidance', num(v)),
    'Denoising strength': (v) => set('strength', num(v)),
    Size: (v) => {
      const m = /^(\d+)x(\d+)$/.exec(v);
      return !!m && set('width', Number(m[1])) && set('height', Number(m[2]));
    },
    Sampler: (v) => {
      const karras = pairs['Schedule type']?.toLowerCase() === 'karras' ? ' karras' : '';
      return set('scheduler', BY_SAMPLER.get(v.toLowerCase() + karras) ?? BY_SAMPLER.get(v.toLowerCase()));
    },
  };
  function set<K extends keyof ParsedInfotext['params']>(k: K, v: ParsedInfotext['params'][K] | undefined): boolean {
    if (v === undefined) return false;
    params[k] = v;
    return true;
  }
  for (const [k, v] of Object.entries(pairs)) if (!take[k]?.(v)) other[k] = v;
  if (params.scheduler === 'dpmpp-2m-karras') delete other['Schedule type'];
  return { params, other };
}

function unquote(raw: string): string {
  try {
    return JSON.parse(raw) as string;
  } catch {
    return raw.slice(1, -1);
  }
}
const int = (v: string): number | undefined => (/^\d+$/.test(v) ? Number(v) : undefined);
const num = (v: string): number | undefined => (v !== '' && Number.isFinite(Number(v)) ? Number(v) : undefined);
