import { fastestAbove, paretoFrontier, spread, type Spread } from '../../app/metrics';
import { steadyRuns, type RunRecord, type SweepPoint } from '../../app/studio';

/** Chart rows are plain objects; their keys are these constants (recharts wants stable dataKeys). */
export const K = {
  name: 'name', text: 'text', denoise: 'denoise', vae: 'vae', step: 'step', A: 'A', B: 'B', Afull: 'Afull', Bfull: 'Bfull',
  median: 'median', err: 'err', label: 'label', latency: 'latencyMs', ssim: 'ssim',
} as const;

export interface StageRow {
  name: string;
  text: number;
  denoise: number;
  vae: number;
}

const med = (xs: number[]): number => spread(xs).median;

/** Median stage times, first run and steady state apart, for each side. */
export function stageRows(runs: readonly RunRecord[]): StageRow[] {
  const rows: StageRow[] = [];
  for (const side of ['A', 'B']) {
    for (const [name, first] of [['first', true], ['steady', false]] as const) {
      const rs = runs.filter((r) => r.side === side && r.result.firstRun === first);
      if (!rs.length) continue;
      const t = rs.map((r) => r.result.timings);
      rows.push({ name: `${side} ${name}`, text: med(t.map((x) => x.textEncoderMs)), denoise: med(t.map((x) => x.denoiseMs)), vae: med(t.map((x) => x.vaeDecoderMs)) });
    }
  }
  return rows;
}

export interface StepRow {
  step: number;
  A?: number;
  B?: number;
  Afull?: boolean;
  Bfull?: boolean;
}

/** Per-step wall time (steady-state median per step), and whether the step ran the full UNet. */
export function stepRows(runs: readonly RunRecord[]): StepRow[] {
  const rows: StepRow[] = [];
  for (const side of ['A', 'B'] as const) {
    const rs = steadyRuns(runs, side);
    const n = rs[0]?.result.timings.stepMs.length ?? 0;
    const full = new Set(rs[0]?.result.fullSteps ?? []);
    for (let i = 0; i < n; i++) {
      const row = (rows[i] ??= { step: i + 1 });
      row[side] = med(rs.map((r) => r.result.timings.stepMs[i] ?? 0));
      row[side === 'A' ? 'Afull' : 'Bfull'] = full.has(i);
    }
  }
  return rows;
}

export interface SideStats extends Spread {
  side: string;
  label: string;
  firstMs?: number;
  /** [median - min, max - median] for the error bar. */
  err: [number, number];
  provider: string;
  fellBack: boolean;
  summary: string;
  fullSteps: number;
  steps: number;
}

export function sideStats(runs: readonly RunRecord[], labels: Record<string, string>): SideStats[] {
  return ['A', 'B'].flatMap((side) => {
    const all = runs.filter((r) => r.side === side);
    if (!all.length) return [];
    const s = spread(steadyRuns(runs, side).map((r) => r.result.timings.totalMs));
    const r0 = all[0]!.result;
    return [{
      ...s, side, label: labels[side] ?? side, firstMs: all.find((r) => r.result.firstRun)?.result.timings.totalMs,
      err: [s.median - s.min, s.max - s.median] as [number, number], provider: r0.provider, fellBack: r0.fellBack, summary: r0.summary,
      fullSteps: r0.fullSteps.length, steps: r0.timings.stepMs.length,
    }];
  });
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
