import { spreadText } from '../../app/grid';
import { fastestAbove, paretoFrontier } from '../../app/metrics';
import { stepSeries, withinNoise } from '../../app/run-stats';
import type { HistoryManifest, RunRecord, SweepPoint } from '../../app/studio';
import type { Variant } from '../../app/variant';

/** Chart rows are plain objects; their keys are these constants (recharts wants stable dataKeys). */
export const K = {
  name: 'name', text: 'text', denoise: 'denoise', vae: 'vae', step: 'step', A: 'A', B: 'B', Afull: 'Afull', Bfull: 'Bfull',
  median: 'median', err: 'err', label: 'label', latency: 'latencyMs', ssim: 'ssim',
} as const;

export interface StepRow {
  step: number;
  A?: number;
  B?: number;
  Afull?: boolean;
  Bfull?: boolean;
}

/** Per-step rows of both sides for the step chart (from app/run-stats: one computation with the report). */
export function stepRows(runs: readonly RunRecord[]): StepRow[] {
  const rows: StepRow[] = [];
  for (const side of ['A', 'B'] as const) {
    const { ms, full } = stepSeries(runs, side);
    ms.forEach((v, i) => {
      const row = (rows[i] ??= { step: i + 1 });
      row[side] = v;
      row[side === 'A' ? 'Afull' : 'Bfull'] = full.has(i);
    });
  }
  return rows;
}

export interface SweepView {
  byBranch: { branch: number; points: SweepPoint[] }[];
  frontier: SweepPoint[];
  best?: SweepPoint;
  /** Other points above the threshold whose time is within noise of the best's (IQRs overlap). */
  ties: SweepPoint[];
}

/** A point's spread as app/metrics' Spread (older entries kept only the median: n 1). */
export const pointSpread = (p: SweepPoint) => ({ n: p.n ?? 1, median: p.latencyMs, q1: p.q1 ?? p.latencyMs, q3: p.q3 ?? p.latencyMs, min: p.min ?? p.latencyMs, max: p.max ?? p.latencyMs });

export function sweepView(points: readonly SweepPoint[], threshold: number): SweepView {
  const branches = [...new Set(points.map((p) => p.branch))].sort((a, b) => a - b);
  const best = fastestAbove(points, threshold);
  return {
    byBranch: branches.map((branch) => ({ branch, points: points.filter((p) => p.branch === branch) })),
    frontier: paretoFrontier(points),
    best,
    ties: best ? points.filter((p) => p !== best && p.ssim >= threshold && withinNoise(pointSpread(p), pointSpread(best))) : [],
  };
}

/** The variant a sweep point ran: the sweep's base with its DeepCache setting. */
export const sweepVariant = (s: NonNullable<HistoryManifest['sweep']>, p: SweepPoint): Variant =>
  ({ ...s.base, label: `N=${p.interval} b${p.branch}`, deepcache: { interval: p.interval, branch: p.branch, schedule: 'uniform' } });

/** A sweep point's time with its spread (app/grid.ts's wording). */
export const pointLatency = (p: SweepPoint): string => spreadText(pointSpread(p));
