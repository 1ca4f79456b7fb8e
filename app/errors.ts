/**
 * Errors every process shares: one cancellation error (engine loop, job queue, supervisor, renderer
 * rpc) and one way to say what a schema refused. Pure: no node, electron or DOM imports.
 */
import type { z } from 'zod';

export class CancelledError extends Error {
  override name = 'CancelledError';
  constructor(message = 'run cancelled') {
    super(message);
  }
}

/** A request the engine will not run (conflicting or invalid options): refused before any work, with the reason. */
export class RefusedError extends Error {
  override name = 'RefusedError';
}

/** True for a RefusedError, also one rebuilt from `{name, message}` after crossing a process boundary. */
export const isRefused = (e: unknown): boolean => (e as Error | undefined)?.name === 'RefusedError';

/** True for a CancelledError, also one rebuilt from `{name, message}` after crossing a process boundary. */
export const isCancelled = (e: unknown): boolean => (e as Error | undefined)?.name === 'CancelledError';

/** Each validation issue with its field, `max` of them (a hostile payload can carry thousands). */
export function describeIssues(error: z.ZodError, max = 8): string {
  const shown = error.issues.slice(0, max).map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message));
  const more = error.issues.length - shown.length;
  return shown.join('; ') + (more > 0 ? ` (and ${more} more)` : '');
}

const LABELS: Record<string, string> = { cfgTruncation: 'CFG truncation', lcmLora: 'LCM-LoRA', loras: 'LoRAs', deepcache: 'DeepCache', initImage: 'Init image' };
const words = (key: string): string => key.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase();
const label = (key: string): string => LABELS[key] ?? words(key).replace(/^./, (c) => c.toUpperCase());

/**
 * A refused request as a person reads it: describeIssues' "jobs.compare: invalid request:
 * params.steps: steps must be <= 1000" becomes "Steps: must be ≤ 1000" (B's fields say "B ·").
 * Other messages pass unchanged; logs and tests keep describeIssues' exact form.
 */
export function plainError(message: string): string {
  const m = /^(?:[\w.]+: )?invalid (?:run )?(?:request|response|event|parameters): (.*)$/s.exec(message);
  if (!m) return message;
  return m[1]!.split('; ').map((issue) => {
    const i = /^([\w.]+): (.*)$/s.exec(issue);
    if (!i) return issue;
    const path = i[1]!.split('.').filter((p) => !/^\d+$/.test(p));
    const key = path.at(-1)!;
    const side = path[0] === 'a' ? 'A · ' : path[0] === 'b' ? 'B · ' : '';
    // the schemas' messages start with the field's own name ("steps must be …"): say it once
    const own = [i[1]!, key, words(key)].find((k) => i[2]!.toLowerCase().startsWith(`${k.toLowerCase()} `));
    const text = (own ? i[2]!.slice(own.length + 1) : i[2]!).replace(/<=/g, '≤').replace(/>=/g, '≥');
    return `${side}${label(key)}: ${text}`;
  }).join('; ');
}

/**
 * Why a provider cannot run, in plain words, with the raw text (a C++ assertion, a loader error)
 * kept for a "details" toggle; `plain` is undefined when the raw reason is already plain.
 */
export function plainProviderReason(reason: string): { plain?: string; raw: string } {
  if (/failed to load shared library/i.test(reason)) return { plain: `its GPU libraries are not installed${/setup:gpu/.test(reason) ? ' (run `npm run setup:gpu`)' : ''}`, raw: reason };
  if (/adapter/i.test(reason) && /webgpu|dawn|wgpu/i.test(reason)) return { plain: 'no WebGPU adapter (GPU) could be opened on this machine', raw: reason };
  if (/ORT_ENFORCE|assert|was false|\.(cc|cpp|h):\d+|Check failed/i.test(reason)) return { plain: 'it failed to start on this machine (an internal check in onnxruntime failed)', raw: reason };
  return { raw: reason };
}
