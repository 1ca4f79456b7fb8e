import { describe, expect, it } from 'vitest';
import { sideStats, speedup, stageRows, stepSeries } from '../../app/run-stats';
import type { RunRecord } from '../../app/studio';

const run = (side: string, repeat: number, totalMs: number, firstRun: boolean, stepMs: number[], fullSteps: number[]): RunRecord => ({
  side, repeat, result: {
    provider: 'cpu', fellBack: false, params: { prompt: 'p', negativePrompt: '', seed: 1, steps: 2, guidance: 3, batch: 1, scheduler: 'ddim', width: 64, height: 64 }, prepareMs: 0, prepareSteps: {}, firstRun, fullSteps, summary: `${side} summary`,
    model: { dir: '/m', name: 'm', hash: 'h' },
    timings: { textEncoderMs: 1 + repeat, vaeEncoderMs: 0, stepMs, stepOnnxMs: stepMs, denoiseMs: 10 * (repeat + 1), vaeDecoderMs: 3, totalMs, onnxMs: totalMs, overheadMs: 0 },
  },
});

// A: a slow first run then 100, 120, 140; B: first run then 50, 70 (B has cached steps)
const RUNS = [
  run('A', 0, 900, true, [30, 30], [0, 1]), run('B', 0, 800, true, [30, 5], [0]),
  run('A', 1, 100, false, [40, 40], [0, 1]), run('B', 1, 50, false, [20, 4], [0]),
  run('A', 2, 140, false, [60, 50], [0, 1]), run('B', 2, 70, false, [40, 6], [0]),
  run('A', 3, 120, false, [50, 60], [0, 1]),
];

describe('run totals and medians (one computation for the report and the latency tab)', () => {
  it('speedup is median A over median B in steady state; first runs left out', () => {
    expect(speedup(RUNS)).toBeCloseTo(120 / 60);
    expect(speedup(RUNS.filter((r) => r.side === 'A'))).toBeUndefined();
    // only first runs: they are all there is, so they count
    expect(speedup(RUNS.filter((r) => r.result.firstRun))).toBeCloseTo(900 / 800);
  });

  it('per side: spread of the steady totals, the first run apart, what ran', () => {
    const [a, b] = sideStats(RUNS, { A: 'base', B: 'dc' });
    expect(a).toMatchObject({ side: 'A', label: 'base', n: 3, median: 120, min: 100, max: 140, firstMs: 900, err: [20, 20], summary: 'A summary', fullSteps: 2, steps: 2 });
    expect(b).toMatchObject({ side: 'B', label: 'dc', n: 2, median: 60, min: 50, max: 70, firstMs: 800, fullSteps: 1 });
    expect(sideStats(RUNS.filter((r) => r.side === 'B'), {}).map((s) => s.label)).toEqual(['B']);
  });

  it('stage medians by side, first run and steady apart; step medians with the full-UNet steps', () => {
    expect(stageRows(RUNS)).toEqual([
      { name: 'A first', text: 1, denoise: 10, vae: 3 }, { name: 'A steady', text: 3, denoise: 30, vae: 3 },
      { name: 'B first', text: 1, denoise: 10, vae: 3 }, { name: 'B steady', text: 2.5, denoise: 25, vae: 3 },
    ]);
    expect(stepSeries(RUNS, 'A')).toEqual({ ms: [50, 50], full: new Set([0, 1]) });
    expect(stepSeries(RUNS, 'B')).toEqual({ ms: [30, 5], full: new Set([0]) });
    expect(stepSeries([], 'A')).toEqual({ ms: [], full: new Set() });
  });
});
