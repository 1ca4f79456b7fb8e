import type { StateCreator } from 'zustand';
import type { BlindVote } from '../../app/blind';
import type { GridCell, MatrixSetting } from '../../app/grid';
import type { HistoryManifest, JobInfo, JobKind } from '../../app/studio';
import type { Variant } from '../../app/variant';
import { isCancelled, plainError } from '../../app/errors';
import type { StudioState } from './state';
import { resetProgress } from './progress';
import { baseVariant, blindRequest, compareRequest, newJobId, sharedParams, sweepRequest } from './requests';

/** One side of a pair opened from a sweep or grid: an image it already made and what made it. */
export interface PairSide {
  file: string;
  label: string;
  variant: Variant;
}

export interface RunsSlice {
  job?: JobInfo & { error?: string };
  /** The entry on show (just run, or reopened from the history). */
  current?: HistoryManifest;
  /** Files of the current entry as data: URLs, by name (its init image under INIT_IMAGE). */
  images: Record<string, string>;
  runCompare(): Promise<void>;
  runSweep(branches: number[], intervals: number[], repeats: number): Promise<void>;
  runGrid(axes: { key: string; values: (string | number | boolean)[] }[], repeats: number): Promise<void>;
  runMatrix(settings: MatrixSetting[], repeats: number): Promise<void>;
  /** The sweep, grid or matrix a pair was opened from: its tab keeps showing it. */
  origin?: HistoryManifest;
  /** Two images of the current sweep/grid entry in the Compare tab (no new run). */
  openPair(a: PairSide, b: PairSide): void;
  runBlind(prompts: string[], seeds: number[]): Promise<void>;
  /** One vote of the blind session on show; the host saves it and returns the session. */
  voteBlind(pair: number, vote: BlindVote, ms: number): Promise<void>;
  cancel(): Promise<void>;
  openEntry(id: string, switchTab?: boolean): Promise<void>;
  onJobState(info: JobInfo): void;
}


/** The key of the current entry's init image in `images` (not a file name an entry can hold). */
export const INIT_IMAGE = ':init-image';

export const runsSlice: StateCreator<StudioState, [], [], RunsSlice> = (set, get) => {
  /** Jobs this window started and awaits; others (started before a reload) are opened when they end. */
  const awaited = new Set<string>();

  const runJob = async (kind: JobKind, total: number, repeats: number, call: (jobId: string) => Promise<HistoryManifest>): Promise<void> => {
    if (get().job?.status === 'running' || get().job?.status === 'queued') return;
    const jobId = newJobId();
    awaited.add(jobId);
    resetProgress(get().progress, jobId, repeats, total, get().inputs.steps);
    // the last run's error is over: its notice must not sit over this run's captions
    for (const n of get().notices) get().dismiss(n.id);
    set({ job: { jobId, kind, status: 'queued', done: 0, total } });
    try {
      const m = await call(jobId);
      await get().openEntry(m.id, false);
    } catch (e) {
      const message = plainError((e as Error).message);
      set((s) => ({ job: s.job && { ...s.job, status: isCancelled(e) ? 'cancelled' : 'failed', error: message } }));
      if (!isCancelled(e)) get().notify(message);
      await get().openEntry(jobId, false).catch(() => undefined); // what finished before the failure
    } finally {
      awaited.delete(jobId);
      void get().refreshHistory();
    }
  };

  return {
    images: {},
    runCompare: () => {
      const s = get();
      const seed = s.seedForRun();
      return runJob('compare', s.inputs.repeats * 2, s.inputs.repeats, (jobId) => s.client.call('jobs.compare', compareRequest(get(), jobId, seed)));
    },
    runSweep: (branches, intervals, repeats) => {
      const s = get();
      const seed = s.seedForRun();
      const n = new Set([1, ...intervals]).size;
      return runJob('sweep', branches.length * (1 + n * repeats), repeats, (jobId) =>
        s.client.call('jobs.sweep', sweepRequest(get(), jobId, seed, branches, intervals, repeats)));
    },
    runGrid: (axes, repeats) => {
      const s = get();
      const seed = s.seedForRun();
      const n = axes.reduce((k, a) => k * a.values.length, 1);
      return runJob('grid', n * repeats, repeats, (jobId) =>
        s.client.call('jobs.grid', { jobId, model: s.modelDir, ...sharedParams(get(), seed), base: baseVariant(get()), axes, repeats }));
    },
    runMatrix: (settings, repeats) => {
      const s = get();
      const seed = s.seedForRun();
      const n = 1 + settings.length * (settings.length + 1) / 2;
      return runJob('matrix', n * repeats, repeats, (jobId) =>
        s.client.call('jobs.matrix', { jobId, model: s.modelDir, ...sharedParams(get(), seed), base: baseVariant(get()), settings, repeats }));
    },
    openPair: (a, b) => {
      const src = get().origin ?? get().current;
      if (!src) return;
      const compare = { a: { ...a.variant, label: a.label.slice(0, 40) }, b: { ...b.variant, label: b.label.slice(0, 40) }, repeats: 0, runs: [], images: { a: a.file, b: b.file } };
      set({ origin: src, current: { ...src, kind: 'compare', compare, sweep: undefined, grid: undefined } });
      get().setTab('compare');
    },
    runBlind: (prompts, seeds) => {
      const s = get();
      return runJob('blind', prompts.length * seeds.length * 2, 1, (jobId) => s.client.call('jobs.blind', blindRequest(get(), jobId, prompts, seeds)));
    },
    voteBlind: async (pair, vote, ms) => {
      const id = get().current?.id;
      if (!id) return;
      try {
        set({ current: await get().client.call('blind.vote', { id, pair, vote, ms }) });
      } catch (e) {
        get().notify((e as Error).message);
      }
    },
    cancel: async () => {
      const job = get().job;
      if (job) await get().client.call('jobs.cancel', { jobId: job.jobId });
    },
    openEntry: async (id, switchTab = true) => {
      const m = await get().client.call('history.get', { id });
      const files = [m.compare?.images.a, m.compare?.images.b, m.compare?.images.diff, m.sweep?.reference, ...(m.sweep?.points.map((p) => p.image) ?? []), ...(m.grid?.cells.map((c: GridCell) => c.image) ?? [])]
        .filter((f): f is string => !!f);
      const keep = (get().origin ?? get().current)?.id === id ? get().images : {};
      const images: Record<string, string> = {};
      await Promise.all(files.map(async (f) => {
        images[f] = keep[f] ?? (await get().client.call('history.file', { id, file: f })).dataUrl;
      }));
      const init = m.inputs?.initImage;
      if (init) {
        const url = keep[INIT_IMAGE] ?? (await get().client.call('inputs.get', { ref: init }).then((r) => r.dataUrl, () => undefined));
        if (url) images[INIT_IMAGE] = url; // an image since deleted from the workspace is only missing from the view
      }
      const shown = get().current?.id === id;
      // a pair opened from this entry stays on show in Compare; its origin follows the entry
      const pair = get().origin?.id === id && get().current?.compare && !m.compare;
      set(pair ? { origin: m, images } : { current: m, origin: undefined, images, ...(shown ? {} : { highlight: undefined, inspect: undefined }) });
      // what the engine fixed for the whole job (a resized mask or control image: every run says it) is said when
      // an entry is first shown; per-run measurements (ControlNet ms) stay with the comparison's own panels
      const runs = m.compare?.runs ?? [];
      const notices = (runs[0]?.result.notices ?? []).filter((n) => runs.every((r) => r.result.notices?.includes(n)));
      if (notices.length && !shown && !pair) get().notify(`Run ${id}: ${notices.join('; ')}`);
      if (switchTab) get().setTab(m.kind);
    },
    onJobState: (info) => {
      const job = get().job;
      if (job?.jobId !== info.jobId) {
        if (job && (job.status === 'running' || job.status === 'queued')) return; // ours first; that one waits behind it
        // a job this window did not start (another window's, or ours before a reload): follow it
        resetProgress(get().progress, info.jobId, info.kind === 'compare' ? Math.max(1, info.total / 2) : 1, info.total);
      }
      set({ job: { ...info, error: info.status === 'failed' && info.message ? plainError(info.message) : undefined } });
      const ended = info.status === 'done' || info.status === 'failed' || info.status === 'cancelled';
      if (ended && !awaited.has(info.jobId)) void get().openEntry(info.jobId, false).catch(() => undefined);
    },
  };
};
