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
