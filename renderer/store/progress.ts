import { createStore, type StoreApi } from 'zustand/vanilla';
import type { JobPreview, JobProgress } from '../../app/studio';

export interface SideProgress {
  /** 0..1 over all this side's repeats. */
  fraction: number;
  step: number;
  steps: number;
  repeat: number;
  stage: string;
}

export interface Preview {
  width: number;
  height: number;
  rgb: Uint8Array;
  step: number;
  steps: number;
}

/**
 * Step-rate state (progress bars, live previews) lives in its own store: components subscribe
 * to it and write to the DOM or a canvas directly, so a step never re-renders the app.
 */
export interface ProgressState {
  jobId?: string;
  repeats: number;
  total: number;
  /** The steps the user set (shown instead of a scheduler's extra UNet calls); unknown for a job another window started. */
  steps?: number;
  overall: number;
  sides: Record<string, SideProgress>;
  previews: Record<string, Preview>;
}

export type ProgressStore = StoreApi<ProgressState>;

export const createProgressStore = (): ProgressStore =>
  createStore<ProgressState>(() => ({ repeats: 1, total: 1, overall: 0, sides: {}, previews: {} }));

export function resetProgress(store: ProgressStore, jobId: string, repeats: number, total: number, steps?: number): void {
  store.setState({ jobId, repeats, total, steps, overall: 0, sides: {}, previews: {} });
}

/** Compare jobs report per side A/B; other jobs (sweeps) count into one "job" bar. */
export function applyProgress(store: ProgressStore, p: JobProgress): void {
  const s = store.getState();
  if (p.jobId !== s.jobId) return;
  const e = p.event;
  const key = p.side === 'A' || p.side === 'B' ? p.side : 'job';
  const prev = s.sides[key] ?? { fraction: 0, step: 0, steps: 1, repeat: 0, stage: '' };
  let within: number, step = prev.step, steps = prev.steps, stage = prev.stage;
  if (e.type === 'step') {
    step = e.step;
    steps = e.steps;
    stage = 'denoising';
    within = e.step / e.steps;
  } else {
    stage = e.stage;
    within = e.stage === 'vae-decoder' ? 1 : e.stage === 'text-encoder' ? 0 : prev.step / prev.steps;
  }
  const fraction = key === 'job' ? (p.run + within) / s.total : (p.repeat + within) / s.repeats;
  const overall = key === 'job' ? fraction : s.overall;
  store.setState({ overall, sides: { ...s.sides, [key]: { fraction: Math.min(1, fraction), step, steps, repeat: p.repeat, stage } } });
}

export function applyPreview(store: ProgressStore, p: JobPreview): void {
  const s = store.getState();
  if (p.jobId !== s.jobId) return;
  const bin = atob(p.rgb);
  const rgb = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) rgb[i] = bin.charCodeAt(i);
  const key = p.side === 'A' || p.side === 'B' ? p.side : 'job';
  store.setState({ previews: { ...s.previews, [key]: { width: p.width, height: p.height, rgb, step: p.step, steps: p.steps } } });
}
