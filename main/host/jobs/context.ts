import type { RunRequest } from '../../../app/run-request';
import type { EventName, PayloadOf } from '../../../app/channels';
import type { EngineImage, EngineSupervisor, Preview } from '../engine-supervisor';
import type { EnginePool } from '../engine-pool';
import type { HistoryStore } from '../history';
import type { RunResult } from '../../../app/contract';

export type Emit = <E extends EventName>(event: E, payload: PayloadOf<E>) => void;

/** What a job body gets from the host. */
export interface JobContext {
  /** Runs go to the engine process their variant's environment needs. */
  engine: Pick<EnginePool, 'run'>;
  history: HistoryStore;
  emit: Emit;
  signal: AbortSignal;
  progress(done: number, message?: string): void;
}

const PREVIEW_EVERY_MS = 66;

/** One engine run inside a job, its progress and (throttled) previews forwarded as events. */
export async function runOne(
  ctx: JobContext, jobId: string, at: { run: number; label: string; side: string; repeat: number }, request: RunRequest, previews: boolean,
  /** Every step's preview, unthrottled (the per-step trajectory). */
  onStep?: (p: Preview) => void,
): Promise<{ result: RunResult; images: EngineImage[] }> {
  let steps = request.params.steps;
  let lastPreview = 0;
  return ctx.engine.run(request, {
    signal: ctx.signal,
    onEvent: (event) => {
      if (event.type === 'step') steps = event.steps;
      ctx.emit('job.progress', { jobId, ...at, event });
    },
    onPreview: (p) => {
      onStep?.(p);
      const now = Date.now();
      if (now - lastPreview < PREVIEW_EVERY_MS && p.step < steps - 1) return;
      lastPreview = now;
      ctx.emit('job.preview', { jobId, side: at.side, step: p.step, steps, width: p.width, height: p.height, rgb: Buffer.from(p.rgb).toString('base64') });
    },
  }, previews);
}

export const nowIso = (): string => new Date().toISOString();
