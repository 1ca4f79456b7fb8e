import type { Variant } from '../../app/variant';
import type { Acceleration } from './acceleration';
import { cfg } from './cfg';
import { compile } from './compile';
import { deepcache } from './deepcache';
import { fusedAttention } from './fused-attention';
import { lcmLora } from './lcm-lora';
import { lora } from './lora';
import { precision } from './precision';
import { provider } from './provider';

/** Every acceleration, in the order they prepare a variant (graph rewrites, then partitioning, then compilation); one line each. */
export const ACCELERATIONS: Acceleration[] = [
  provider,
  lora,
  lcmLora,
  fusedAttention,
  deepcache,
  precision,
  compile,
  cfg,
];

export function enabledFor(v: Variant): Acceleration[] {
  return ACCELERATIONS.filter((a) => a.enabled(v));
}

/** Conflicting options are validation errors, listed together. */
export function validateVariant(v: Variant): void {
  const problems = ACCELERATIONS.flatMap((a) => a.validate?.(v) ?? []);
  if (problems.length) throw new Error(`variant "${v.label}": ${problems.join('; ')}`);
}

/** The one-line summary the studio shows for a variant (an acceleration that changed nothing says ''). */
/** The one-line summary of a variant; after a run, `notes` says what each acceleration actually did. */
export function describeVariant(v: Variant, notes: Record<string, string> = {}): string {
  return enabledFor(v).map((a) => notes[a.id] ?? a.describe(v)).filter(Boolean).join(', ');
}
