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
  /** UNet calls per run, and the steps the user set (they differ with PNDM). */
  steps: number;
  setSteps: number;
  scheduler: string;
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
      ...s, side, label: ranLabel(labels[side] ?? side, r0), firstMs: all.find((r) => r.result.firstRun)?.result.timings.totalMs,
      err: [s.median - s.min, s.max - s.median] as [number, number], provider: r0.providerLabel ?? r0.provider, fellBack: r0.fellBack, summary: r0.summary,
      fullSteps: r0.fullSteps.length, steps: r0.timings.stepMs.length, setSteps: r0.params.steps, scheduler: r0.params.scheduler,
      firstOnly: all.every((r) => r.result.firstRun),
    }];
  });
}

/** Median total of A over median total of B (steady state): > 1 means B is faster. */
export function speedup(runs: readonly RunRecord[]): number | undefined {
  const [a, b] = ['A', 'B'].map((side) => steadyRuns(runs, side).map((r) => r.result.timings.totalMs));
  const s = a!.length && b!.length ? spread(a!).median / spread(b!).median : NaN;
  return Number.isFinite(s) ? s : undefined;
}

/**
 * The speed-up's spread from the steady runs' quartiles: [A's q1 / B's q3, A's q3 / B's q1]
 * (the slowest and fastest reading the middle half of each side allows); undefined with one run a side.
 */
export function speedupSpread(runs: readonly RunRecord[]): { low: number; high: number; runs: [number, number] } | undefined {
  const [a, b] = ['A', 'B'].map((side) => spread(steadyRuns(runs, side).map((r) => r.result.timings.totalMs)));
  if (a!.n < 2 || b!.n < 2) return undefined;
  return { low: a!.q1 / b!.q3, high: a!.q3 / b!.q1, runs: [a!.n, b!.n] };
}

/** A side's label with what actually ran when it fell back ("cuda (fell back to cpu)"): every place that names a side uses it. */
export function ranLabel(label: string, result?: { provider: string; fellBack: boolean }): string {
  return result?.fellBack ? `${label} (fell back to ${result.provider})` : label;
}

/**
 * Steps as the user set them, when the scheduler makes more UNet calls than that (PNDM: N steps
 * take N + 1 calls, its first step taken twice as the warm-up of its multistep method).
 */
export function shownStep(call: number, calls: number, steps: number | undefined): { step: number; of: number } {
  if (!steps || calls <= steps) return { step: call, of: calls };
  return { step: Math.min(steps, Math.max(1, call - (calls - steps))), of: steps };
}

/** Why a run's UNet calls differ from its steps, in words (undefined when they do not). */
export function stepsNote(steps: number, calls: number, scheduler?: string): string | undefined {
  if (calls <= steps) return undefined;
  const why = scheduler === 'pndm' ? 'PNDM takes its first step twice, the warm-up of its multistep method' : `the ${scheduler ?? ''} scheduler adds calls of its own`;
  return `${steps} steps made ${calls} UNet calls: ${why}`;
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
