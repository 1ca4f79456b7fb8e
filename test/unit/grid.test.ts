import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accelerations } from '../../app/accelerations/registry';
import type { PayloadOf } from '../../app/channels';
import { axisSpec, gridAxes, gridTables, latencyText, matrixSettings, parseAxisValues, planGrid, planMatrix, speedupText, type GridCell } from '../../app/grid';
import { interleavedOrder, withinNoise } from '../../app/run-stats';
import { GridRequest, MatrixRequest } from '../../app/studio';
import { Variant } from '../../app/variant';
import { buildReport } from '../../main/host/report';
import { forkEngine } from '../../main/host/spawn-fork';
import { StudioHost } from '../../main/host/studio-host';
import { FIXTURE_MODEL } from '../parity/reference';

const params = { prompt: 'a red cat', seed: 1, steps: 4, width: 64, height: 64 };
const base = Variant.parse({ label: 'base' });

describe('grid axes and cells (app/grid.ts)', () => {
  it('axes are the generation parameters plus every editor field of the acceleration registry', () => {
    const keys = gridAxes().map((a) => a.key);
    expect(keys.slice(0, 6)).toEqual(['prompt', 'seed', 'steps', 'guidance', 'scheduler', 'size']);
    for (const k of ['provider', 'precision', 'optLevel', 'fusedAttention', 'deepcache.interval', 'deepcache.branch', 'deepcache.schedule', 'deepcache.start', 'deepcache.end', 'loras.weight', 'cfgTruncation']) expect(keys).toContain(k);
    // every descriptor field that holds a value is an axis (files are not)
    const fields = accelerations().flatMap((d) => [...(d.editor.fields ?? []).map((f) => [f.key, f.kind]), ...(d.editor.group?.fields ?? []).map((f) => [`${d.editor.group!.key}.${f.key}`, f.kind])]);
    for (const [k, kind] of fields) if (kind !== 'file') expect(keys).toContain(kind === 'file-list' ? `${k}.weight` : k);
  });

  it('values parse per kind, with ranges, and every bad value is refused by name', () => {
    expect(parseAxisValues(axisSpec('steps'), '2, 4-6')).toEqual([2, 4, 5, 6]);
    expect(parseAxisValues(axisSpec('scheduler'), 'ddim,euler')).toEqual(['ddim', 'euler']);
    expect(parseAxisValues(axisSpec('fusedAttention'), 'off, on')).toEqual([false, true]);
    expect(parseAxisValues(axisSpec('size'), '64x64, 96 x 64')).toEqual(['64x64', '96x64']);
    expect(parseAxisValues(axisSpec('prompt'), 'red | blue, dark')).toEqual(['red', 'blue, dark']);
    expect(() => parseAxisValues(axisSpec('steps'), '')).toThrow('Steps: give at least one value');
    expect(() => parseAxisValues(axisSpec('steps'), '2, x')).toThrow('Steps: "x" is not a number');
    expect(() => parseAxisValues(axisSpec('steps'), '2.5')).toThrow('Steps: "2.5" is not an integer');
    expect(() => parseAxisValues(axisSpec('steps'), '0')).toThrow('Steps: 0 is below 1');
    expect(() => parseAxisValues(axisSpec('steps'), '1-40')).toThrow('at most 16 values');
    expect(() => parseAxisValues(axisSpec('scheduler'), 'heun')).toThrow('Scheduler: "heun" is not one of');
    expect(() => parseAxisValues(axisSpec('size'), '64')).toThrow('is not WxH');
    expect(() => parseAxisValues(axisSpec('seed'), '1, 1')).toThrow('a value is given twice');
    expect(() => axisSpec('nope')).toThrow('no grid axis "nope"');
  });

  it('plans cells X fastest; prompt S/R, group fields and refusals land where they should', () => {
    const cells = planGrid(params, base, [{ key: 'prompt', values: ['red', 'blue'] }, { key: 'deepcache.interval', values: [1, 3] }]);
    expect(cells.map((c) => c.coords)).toEqual([[0, 0], [1, 0], [0, 1], [1, 1]]);
    expect(cells[1]!.run!.params.prompt).toBe('a blue cat');
    expect(cells[3]!.run!.variant.deepcache).toEqual({ interval: 3, branch: 0, schedule: 'uniform' });
    expect(planGrid(params, base, [{ key: 'prompt', values: ['green', 'blue'] }])[0]!.refused).toBe('Prompt S/R: "green" does not occur in the prompt');
    expect(planGrid(params, base, [{ key: 'loras.weight', values: [0.5] }])[0]!.refused).toContain('the base variant has no LoRAs');
    const w = planGrid(params, base, [{ key: 'deepcache.start', values: [0.5] }, { key: 'deepcache.end', values: [0.1, 0.6] }]);
    expect([w[0]!.refused, w[1]!.refused]).toEqual([undefined, expect.stringContaining('deepcache.start + deepcache.end must be < 1')]);
    expect(() => planGrid(params, base, [{ key: 'seed', values: Array.from({ length: 9 }, (_, i) => i) }, { key: 'steps', values: Array.from({ length: 8 }, (_, i) => i + 1) }])).toThrow('grid: 72 cells, at most 64');
    expect(GridRequest.safeParse({ jobId: 'grid-test-1', model: 'm', params, base: {}, axes: [{ key: 'seed', values: [1] }, { key: 'seed', values: [2] }] }).error?.message).toContain('each axis must vary a different parameter');
  });

  it('the matrix: settings derive from the registry; the base first, each setting alone, pairs of different options', () => {
    const settings = matrixSettings(base, []);
    const labels = settings.map((s) => s.label);
    expect(labels).toEqual(expect.arrayContaining(['Provider webgpu', 'Precision fp16', 'Precision bf16', 'Fused attention on', 'DeepCache on', 'CFG truncation after 55% of steps']));
    expect(labels.some((l) => l.startsWith('LCM-LoRA') || l.startsWith('LoRA'))).toBe(false); // no LoRA files: nothing to switch them on with
    expect(matrixSettings(base, ['/m/loras/x.safetensors']).map((s) => s.label)).toEqual(expect.arrayContaining(['LoRA (first in loras/)', 'LCM-LoRA on']));
    const pick = ['Precision fp16', 'Precision bf16', 'DeepCache on'].map((l) => settings.find((s) => s.label === l)!);
    const cells = planMatrix(params, base, pick);
    // fp16 + bf16 touch one option: no pair
    expect(cells.map((c) => c.label)).toEqual(['base', 'Precision fp16', 'Precision fp16 + DeepCache on', 'Precision bf16', 'Precision bf16 + DeepCache on', 'DeepCache on']);
    expect(MatrixRequest.safeParse({ jobId: 'matrix-test-1', model: 'm', params, base: {}, settings: [] }).success).toBe(false);
  });

  it('latency figures: interleaved rotated order, spread on every figure, first runs marked, within noise by IQR overlap', () => {
    expect(interleavedOrder(4, 2).map((o) => o.cell)).toEqual([0, 1, 2, 3, 2, 3, 0, 1]);
    expect(interleavedOrder(3, 3).map((o) => o.cell)).toEqual([0, 1, 2, 1, 2, 0, 2, 0, 1]);
    const s = (q1: number, q3: number, n = 3) => ({ n, median: (q1 + q3) / 2, min: q1, max: q3, q1, q3 });
    expect(withinNoise(s(10, 12), s(11, 13))).toBe(true);
    expect(withinNoise(s(10, 12), s(13, 14))).toBe(false);
    expect(withinNoise(s(10, 12, 1), s(10, 12))).toBeUndefined();
    const cell = (l: ReturnType<typeof s>, extra: Partial<GridCell> = {}): GridCell => ({ coords: [], label: '', status: 'ran', latency: l, ...extra });
    expect(latencyText(cell(s(40, 44)))).toBe('42.0 ms · IQR 40.0–44.0 · n 3');
    expect(latencyText(cell(s(40, 40, 1)))).toBe('40.0 ms · one run, no spread');
    expect(latencyText(cell(s(40, 40, 1), { firstOnly: true }))).toBe('40.0 ms · first run only');
    expect(speedupText(cell(s(20, 22)), cell(s(40, 44)))).toBe('2.00×');
    expect(speedupText(cell(s(39, 43)), cell(s(40, 44)))).toBe('1.02× · within noise');
  });
});

describe('grid and matrix jobs on the host (engine in its own process)', () => {
  let host: StudioHost;
  const progress: PayloadOf<'job.progress'>[] = [];
  beforeAll(async () => {
    const ws = mkdtempSync(join(tmpdir(), 'grid-host-'));
    host = new StudioHost({
      workspace: ws, mode: 'serve', version: 'test', spawnEngine: forkEngine({ STUDIO_ENGINE_CACHE: join(ws, '.cache') }),
      models: { embedded: join(ws, 'no-embedded-model'), fixture: FIXTURE_MODEL },
    });
    host.onEvent((e, p) => e === 'job.progress' && progress.push(p as PayloadOf<'job.progress'>));
    await host.engine.start();
  }, 60_000);
  afterAll(() => host.close());

  it('a grid runs its cells interleaved with repeats, times each, measures each against the first cell', async () => {
    const req = GridRequest.parse({ jobId: 'grid-host-1', model: FIXTURE_MODEL, params, base: { label: 'b' }, axes: [{ key: 'deepcache.interval', values: [1, 2] }, { key: 'precision', values: ['fp32', 'bf16'] }], repeats: 2 });
    const m = await host.grid(req);
    const g = m.grid!;
    expect(m.status).toBe('done');
    expect(g.cells.map((c) => [c.label, c.status])).toEqual([
      ['DeepCache interval N 1 · Precision fp32', 'ran'], ['DeepCache interval N 2 · Precision fp32', 'ran'],
      ['DeepCache interval N 1 · Precision bf16', 'refused'], ['DeepCache interval N 2 · Precision bf16', 'refused'],
    ]);
    expect(g.cells[2]!.reason).toContain('precision bf16 needs a provider with bf16 kernels');
    expect(g.cells[0]!.ssim).toBeCloseTo(1, 6);
    expect(g.cells[1]!.ssim).toBeLessThan(1);
    expect(g.cells[1]!.fullSteps).toBeLessThan(g.cells[0]!.fullSteps!);
    // 4 cells × 2 rounds in the order 0 1 2 3 | 2 3 0 1 (rotated by half); the bf16 cells are refused once and not tried again
    expect(progress.filter((p) => p.jobId === req.jobId && p.event.type === 'stage' && p.event.stage === 'text-encoder').map((p) => `${p.run}:${p.label}#${p.repeat}`))
      .toEqual(['0:DeepCache interval N 1 · Precision fp32#0', '1:DeepCache interval N 2 · Precision fp32#0', '4:DeepCache interval N 1 · Precision fp32#1', '5:DeepCache interval N 2 · Precision fp32#1']);
    // the first cell's first run opened the sessions: kept apart; N=2 shares them (same branch), so both its runs are steady
    expect(g.cells[0]).toMatchObject({ firstOnly: false, latency: { n: 1 }, firstMs: expect.any(Number) });
    expect(g.cells[1]).toMatchObject({ firstOnly: false, latency: { n: 2 }, firstMs: undefined });
    const html = buildReport(host.history, m);
    expect(html).toContain('X/Y/Z grid');
    expect(html).toContain('refused: variant');
    expect(html.match(/<img src="data:image\/png;base64,/g)!.length).toBe(2);
    expect(host.history.list().find((h) => h.id === req.jobId)!.title).toBe('Grid: DeepCache interval N ×2 × Precision ×2');
  }, 120_000);

  it('a bad axis fails the call before queueing; the matrix says ran, refused and failed per pair', async () => {
    await expect(host.grid(GridRequest.parse({ jobId: 'grid-host-2', model: FIXTURE_MODEL, params, base: {}, axes: [{ key: 'colour', values: [1] }] }))).rejects.toThrow('no grid axis "colour"');
    const settings = matrixSettings(base, []).filter((s) => ['Precision bf16', 'DeepCache on', 'CFG truncation after 55% of steps', 'Provider coreml'].includes(s.label));
    const m = await host.matrix(MatrixRequest.parse({ jobId: 'matrix-host-1', model: FIXTURE_MODEL, params, base: { label: 'b' }, settings, repeats: 1 }));
    const g = m.grid!;
    const by = (l: string) => g.cells.find((c) => c.label === l)!;
    expect(by('base').status).toBe('ran');
    expect(by('DeepCache on + CFG truncation after 55% of steps')).toMatchObject({ status: 'ran', latency: { n: 1 }, ssim: expect.any(Number) });
    expect(by('Precision bf16 + DeepCache on')).toMatchObject({ status: 'refused', reason: expect.stringContaining('bf16') });
    expect(by('Provider coreml')).toMatchObject({ status: 'failed', reason: expect.stringContaining('execution provider coreml is not available') });
    // rows: coreml, bf16, DeepCache, CFG (registry order); coreml + bf16 is refused before the provider is even tried
    const mark = { ran: 'o', refused: 'R', failed: 'F', pending: '?' } as const;
    expect(gridTables(g)[0]!.rows.map((r) => r.cells.map((i) => (i === undefined ? '.' : mark[g.cells[i]!.status])).join(''))).toEqual(['FRFF', '.RRR', '..oo', '...o']);
  }, 120_000);
});
