/**
 * Blind A/B sessions: prompts × seeds, each pair shown with its sides in a random order, a vote
 * per pair, then the preference rate with a Wilson interval and the agreement with the metrics.
 * The export carries what public preference datasets record (prompt, seed, both configs, side
 * shown, vote, time to vote). Pure (the `common` layer).
 */
import { z } from 'zod';
import { MAX_PROMPT } from './contract';
import { JOB_FIELDS } from './run-request';
import { Variant } from './variant';

export const BlindVote = z.enum(['left', 'right', 'same', 'cant-tell']);
export type BlindVote = z.infer<typeof BlindVote>;

export const BlindRequest = z
  .object({
    /** params are shared; each pair's prompt and seed replace theirs */
    ...JOB_FIELDS,
    prompts: z.array(z.string().min(1, 'a prompt must not be empty').max(MAX_PROMPT)).min(1, 'give at least one prompt').max(20, 'at most 20 prompts'),
    seeds: z.array(z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)).min(1, 'give at least one seed').max(10, 'at most 10 seeds'),
    a: Variant,
    b: Variant,
  })
  .strict()
  .refine((r) => r.prompts.length * r.seeds.length <= 50, { message: 'at most 50 pairs (prompts × seeds)' });
export type BlindRequest = z.infer<typeof BlindRequest>;
export type BlindRequestInput = z.input<typeof BlindRequest>;

export const BlindPair = z.object({
  prompt: z.string(),
  seed: z.number().int(),
  /** Which variant is on the left (drawn at random per pair by the host). */
  left: z.enum(['A', 'B']),
  images: z.object({ a: z.string(), b: z.string() }),
  ssim: z.number(),
  vote: BlindVote.optional(),
  /** Milliseconds from the pair appearing to the vote. */
  ms: z.number().nonnegative().optional(),
  votedAt: z.string().optional(),
});
export type BlindPair = z.infer<typeof BlindPair>;

export const BlindSession = z.object({ a: Variant, b: Variant, prompts: z.array(z.string()), seeds: z.array(z.number().int()), pairs: z.array(BlindPair) });
export type BlindSession = z.infer<typeof BlindSession>;

/** The vote as a verdict on the variants (the side shown undone). */
export function preferred(p: BlindPair): 'A' | 'B' | 'same' | 'cant-tell' | undefined {
  if (!p.vote || p.vote === 'same' || p.vote === 'cant-tell') return p.vote;
  const right = p.left === 'A' ? 'B' : 'A';
  return p.vote === 'left' ? p.left : right;
}

/** Wilson score interval of k successes in n trials (z = 1.96: 95 %). */
export function wilson(k: number, n: number, z = 1.96): [number, number] {
  if (n === 0) return [0, 1];
  const p = k / n, z2 = z * z, den = 1 + z2 / n;
  const mid = (p + z2 / (2 * n)) / den, half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / den;
  return [Math.max(0, mid - half), Math.min(1, mid + half)];
}

export interface BlindStats {
  voted: number;
  total: number;
  a: number;
  b: number;
  same: number;
  cantTell: number;
  /** B preferred over A among the decided votes (A or B), with its Wilson interval; undefined without any. */
  bRate?: number;
  ci?: [number, number];
  /** Share of votes where people and SSIM agree: "same"/"can't tell" ⇔ SSIM ≥ threshold. */
  agreement?: number;
}

export function blindStats(pairs: readonly BlindPair[], ssimThreshold: number): BlindStats {
  const verdicts = pairs.map(preferred);
  const count = (v: string) => verdicts.filter((x) => x === v).length;
  const a = count('A'), b = count('B'), decided = a + b;
  const voted = pairs.filter((p) => p.vote);
  const agree = voted.filter((p) => (p.vote === 'same' || p.vote === 'cant-tell') === p.ssim >= ssimThreshold).length;
  return {
    voted: voted.length, total: pairs.length, a, b, same: count('same'), cantTell: count('cant-tell'),
    ...(decided ? { bRate: b / decided, ci: wilson(b, decided) } : {}),
    ...(voted.length ? { agreement: agree / voted.length } : {}),
  };
}

/** One row per pair: the fields preference datasets keep. */
export function blindRows(s: BlindSession): Record<string, string | number>[] {
  return s.pairs.map((p, i) => ({
    pair: i + 1, prompt: p.prompt, seed: p.seed, config_a: JSON.stringify(s.a), config_b: JSON.stringify(s.b), shown_left: p.left,
    vote: p.vote ?? '', preferred: preferred(p) ?? '', time_to_vote_ms: p.ms === undefined ? '' : Math.round(p.ms), voted_at: p.votedAt ?? '', ssim: p.ssim,
  }));
}

/** RFC 4180: fields with a comma, quote or line break are quoted, quotes doubled. */
export function toCsv(rows: readonly Record<string, string | number>[]): string {
  if (!rows.length) return '';
  const cell = (v: string | number) => (/[",\r\n]/.test(String(v)) ? `"${String(v).replace(/"/g, '""')}"` : String(v));
  return [Object.keys(rows[0]!).join(','), ...rows.map((r) => Object.values(r).map(cell).join(','))].join('\r\n') + '\r\n';
}
