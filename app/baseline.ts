/**
 * The stale-baseline guard's key: everything A's result depends on. A is reused from an earlier
 * entry only when every part is equal; otherwise it re-runs and the reason names the first part
 * that changed. Pure (the `common` layer).
 */
import { z } from 'zod';
import { GenerateParams } from './contract';
import { Variant } from './variant';

export const BaselineKey = z.object({
  modelHash: z.string(),
  /** The studio's version: the engine code that produced A. */
  engine: z.string(),
  params: GenerateParams,
  /** Each input image by the SHA-256 of its bytes (a path ref's file may change under the same name). */
  inputs: z.record(z.string(), z.string()),
  repeats: z.number().int(),
  variant: Variant,
});
export type BaselineKey = z.infer<typeof BaselineKey>;

/** What the UI says about A: reused from an entry, or re-run and why. */
export const BaselineUse = z.object({ reusedFrom: z.string().optional(), message: z.string() });
export type BaselineUse = z.infer<typeof BaselineUse>;

/** Key order fixed, so equal values compare equal whatever order they were built in. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') return `{${Object.keys(v).sort().filter((k) => (v as Record<string, unknown>)[k] !== undefined).map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`;
  return JSON.stringify(v);
}

const changed = (a: object, b: object): string[] => [...new Set([...Object.keys(a), ...Object.keys(b)])]
  .filter((k) => canonical((a as Record<string, unknown>)[k]) !== canonical((b as Record<string, unknown>)[k])).sort();

/** Every reason `then`'s A cannot stand for `now`'s, most basic first (empty: it can). The label is a name, not an option. */
export function staleReasons(then: BaselineKey, now: BaselineKey): string[] {
  const out: string[] = [];
  if (then.modelHash !== now.modelHash) out.push(`the model changed (hash ${then.modelHash} → ${now.modelHash})`);
  if (then.engine !== now.engine) out.push(`the engine changed (${then.engine} → ${now.engine})`);
  const p = changed(then.params, now.params);
  if (p.length) out.push(`the parameters changed (${p.join(', ')})`);
  const i = changed(then.inputs, now.inputs);
  if (i.length) out.push(`the input images changed (${i.join(', ')})`);
  if (then.repeats !== now.repeats) out.push(`the repeats changed (${then.repeats} → ${now.repeats})`);
  const { label: _a, ...va } = then.variant, { label: _b, ...vb } = now.variant;
  const v = changed(va, vb);
  if (v.length) out.push(`A's variant changed (${v.join(', ')})`);
  return out;
}

export const staleReason = (then: BaselineKey, now: BaselineKey): string | undefined => staleReasons(then, now)[0];

/**
 * Among earlier entries' keys (newest first): the newest A can be reused from, or why none fits,
 * said against the closest one (fewest changed parts, then newest).
 */
export function findBaseline(now: BaselineKey, earlier: readonly { id: string; key: BaselineKey }[]): BaselineUse {
  if (!earlier.length) return { message: 'A run: no earlier run to reuse' };
  const ranked = earlier.map((e) => ({ id: e.id, why: staleReasons(e.key, now) }));
  const same = ranked.find((e) => !e.why.length);
  if (same) return { reusedFrom: same.id, message: `A reused from run ${same.id}` };
  const closest = ranked.reduce((best, e) => (e.why.length < best.why.length ? e : best));
  return { message: `A re-run: ${closest.why[0]}` };
}
