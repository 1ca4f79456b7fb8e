import type { RunEvent, Stage, Timings } from '../../app/contract';
import { median } from '../../app/metrics';

/**
 * Where one image's engine time outside session.run went, in ms: the loop's steps (scheduler, CFG,
 * feed conversion), the denoise stage outside its steps, each other stage outside its graph, and the
 * rest (between stages: scheduler set-up, initial noise). The parts add up to `timings.overheadMs`.
 */
export interface OverheadSplit {
  stepsMs: number;
  loopMs: number;
  textEncoderMs: number;
  vaeEncoderMs: number;
  vaeDecoderMs: number;
  restMs: number;
}

type StageEvent = Extract<RunEvent, { type: 'stage' }>;

/** The split of one run, from its timings and the stage events it sent (each stage's wall and session.run time). */
export function overheadSplit(t: Timings, events: readonly RunEvent[]): OverheadSplit {
  const stages = new Map<Stage, StageEvent>();
  for (const e of events) if (e.type === 'stage') stages.set(e.stage, e);
  if (!stages.has('denoise')) throw new Error('overheadSplit: the run sent no denoise stage event (pass the run\'s onEvent events)');
  if (t.stepMs.length !== t.stepOnnxMs.length) throw new Error(`overheadSplit: ${t.stepMs.length} step times against ${t.stepOnnxMs.length} session.run times`);
  const outside = (s: Stage) => (stages.has(s) ? stages.get(s)!.ms - stages.get(s)!.onnxMs : 0);
  const stepsMs = t.stepMs.reduce((a, ms, i) => a + ms - t.stepOnnxMs[i]!, 0);
  const staged = [...stages.values()].reduce((a, e) => a + e.ms, 0);
  return {
    stepsMs,
    loopMs: outside('denoise') - stepsMs,
    textEncoderMs: outside('text-encoder'),
    vaeEncoderMs: outside('vae-encoder'),
    vaeDecoderMs: outside('vae-decoder'),
    restMs: t.totalMs - staged,
  };
}

/** Medians of each part over runs. */
export function medianSplit(splits: readonly OverheadSplit[]): OverheadSplit | undefined {
  if (!splits.length) return undefined;
  const keys = Object.keys(splits[0]!) as (keyof OverheadSplit)[];
  return Object.fromEntries(keys.map((k) => [k, median(splits.map((s) => s[k]))])) as unknown as OverheadSplit;
}
