import { descriptor, summarize } from '../../app/accelerations/registry';
import { RefusedError } from '../../app/errors';
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
import { sdFusions } from './sd-fusions';
import { stepInGraph } from './step-in-graph';
import { tf32 } from './tf32';

/** Every acceleration, in the order they prepare a variant (graph rewrites, then partitioning, then compilation); one line each. */
const ACCELERATIONS: Acceleration[] = [
  provider,
  tf32,
  lora,
  lcmLora,
  fusedAttention,
  sdFusions,
  deepcache,
  precision,
  stepInGraph,
  compile,
  cfg,
];
ACCELERATIONS.forEach(checkDescriptor);

/** Each engine acceleration is the implementation of one descriptor in app/accelerations/ (its options, summary, flags). */
function checkDescriptor(a: Acceleration): void {
  descriptor(a.id);
}

/** Adds an acceleration after the built-in ones (it prepares last); its descriptor must be registered in app/ first. */
export function registerEngineAcceleration(a: Acceleration): void {
  if (ACCELERATIONS.some((x) => x.id === a.id)) throw new Error(`engine acceleration "${a.id}" is registered already`);
  checkDescriptor(a);
  ACCELERATIONS.push(a);
}

export function enabledFor(v: Variant): Acceleration[] {
  return ACCELERATIONS.filter((a) => a.enabled(v));
}

/** Conflicting options are validation errors, listed together. */
export function validateVariant(v: Variant): void {
  const problems = ACCELERATIONS.flatMap((a) => a.validate?.(v) ?? []);
  if (problems.length) throw new RefusedError(`variant "${v.label}": ${problems.join('; ')}`);
}

/** Two variants with the same key share graphs and sessions: each acceleration names the options its graphs or sessions depend on. */
export function sessionKey(model: string, v: Variant): string {
  return JSON.stringify([model, ...ACCELERATIONS.filter((a) => a.sessionKey).map((a) => [a.id, a.sessionKey!(v) ?? null])]);
}

/** The one-line summary of a variant (its descriptors' summaries); after a run, `notes` says what each acceleration actually did. */
export function describeVariant(v: Variant, notes: Record<string, string> = {}): string {
  return enabledFor(v).map((a) => notes[a.id] ?? summarize(a.id, v)).filter(Boolean).join(', ');
}
