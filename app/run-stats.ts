/**
 * The numbers of a compare entry's runs: totals per side, stage and step medians, the speedup.
 * One computation for the host (history list, HTML report) and the renderer (latency tab).
 */
import { spread, type Spread } from './metrics';
import type { RunRecord } from './studio';

/** Runs of one side in steady state (not a session's first run), or all of them if none is. */
export function steadyRuns(runs: readonly RunRecord[], side: string): RunRecord[] {
  const all = runs.filter((r) => r.side === side);
  const steady = all.filter((r) => !r.result.firstRun);
  return steady.length ? steady : all;
}

export interface SideStats extends Spread {
  side: string;
  label: string;
  firstMs?: number;
  /** [median - min, max - median] for an error bar. */
  err: [number, number];
  provider: string;
  fellBack: boolean;
  summary: string;
  fullSteps: number;
  steps: number;
  /** No steady run yet: the figures are first runs (sessions opened, warm-up included). */
  firstOnly: boolean;
}

/** Per side that ran: the spread of its steady-state totals (prepare excluded), its first run, what it ran on. */
export function sideStats(runs: readonly RunRecord[], labels: Record<string, string>): SideStats[] {
  return ['A', 'B'].flatMap((side) => {
    const all = runs.filter((r) => r.side === side);
    if (!all.length) return [];
    const s = spread(steadyRuns(runs, side).map((r) => r.result.timings.totalMs));
    const r0 = all[0]!.result;
    return [{
      ...s, side, label: labels[side] ?? side, firstMs: all.find((r) => r.result.firstRun)?.result.timings.totalMs,
      err: [s.median - s.min, s.max - s.median] as [number, number], provider: r0.provider, fellBack: r0.fellBack, summary: r0.summary,
      fullSteps: r0.fullSteps.length, steps: r0.timings.stepMs.length, firstOnly: all.every((r) => r.result.firstRun),
    }];
  });
}

/** Median total of A over median total of B (steady state): > 1 means B is faster. */
export function speedup(runs: readonly RunRecord[]): number | undefined {
  const [a, b] = ['A', 'B'].map((side) => steadyRuns(runs, side).map((r) => r.result.timings.totalMs));
  const s = a!.length && b!.length ? spread(a!).median / spread(b!).median : NaN;
  return Number.isFinite(s) ? s : undefined;
}

export interface StageRow {
  name: string;
  text: number;
  denoise: number;
  vae: number;
}

const med = (xs: number[]): number => spread(xs).median;

/** Median stage times per side, first run and steady state apart ("A first", "A steady", ...). */
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

/** One side's wall time per denoising step (steady-state median per step) and the steps that ran the full UNet. */
export function stepSeries(runs: readonly RunRecord[], side: string): { ms: number[]; full: Set<number> } {
  const rs = steadyRuns(runs, side);
  const n = rs[0]?.result.timings.stepMs.length ?? 0;
  return { ms: Array.from({ length: n }, (_, i) => med(rs.map((r) => r.result.timings.stepMs[i] ?? 0))), full: new Set(rs[0]?.result.fullSteps ?? []) };
}

/**
 * Within noise: the two figures' interquartile ranges overlap (our one rule, stated in the UI).
 * Undefined when either has fewer than 2 runs: one run has no spread to compare.
 */
export function withinNoise(a: Spread, b: Spread): boolean | undefined {
  if (a.n < 2 || b.n < 2) return undefined;
  return a.q1 <= b.q3 && b.q1 <= a.q3;
}

/**
 * The order of a job's runs: `repeats` rounds over every cell (interleaved, so drift hits all
 * alike), each round rotated by a further n/repeats so no cell always runs first or last.
 */
export function interleavedOrder(n: number, repeats: number): { cell: number; repeat: number }[] {
  return Array.from({ length: repeats }, (_, r) => {
    const shift = Math.floor((r * n) / repeats);
    return Array.from({ length: n }, (_, k) => ({ cell: (k + shift) % n, repeat: r }));
  }).flat();
}
