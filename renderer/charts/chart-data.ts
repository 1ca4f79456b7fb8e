import { fastestAbove, paretoFrontier } from '../../app/metrics';
import { stepSeries } from '../../app/run-stats';
import type { RunRecord, SweepPoint } from '../../app/studio';

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
}

export function sweepView(points: readonly SweepPoint[], threshold: number): SweepView {
  const branches = [...new Set(points.map((p) => p.branch))].sort((a, b) => a - b);
  return {
    byBranch: branches.map((branch) => ({ branch, points: points.filter((p) => p.branch === branch) })),
    frontier: paretoFrontier(points),
    best: fastestAbove(points, threshold),
  };
}
