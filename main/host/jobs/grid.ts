import { isCancelled, isRefused } from '../../../app/errors';
import type { GridCell, GridSection, PlannedCell } from '../../../app/grid';
import { psnr, spread, ssim, type Pixels } from '../../../app/metrics';
import type { RunInputs } from '../../../app/run-request';
import { interleavedOrder } from '../../../app/run-stats';
import type { HistoryManifest } from '../../../app/studio';
import { pixelsPng, quantise, thumbnail } from '../images';
import { pngText } from './compare';
import { nowIso, runOne, type JobContext } from './context';

export interface CellsJob {
  jobId: string;
  model: string;
  inputs: RunInputs;
  cells: PlannedCell[];
  repeats: number;
}

/** Runs a grid or matrix job will make: every cell that is not refused, `repeats` times. */
export const cellRuns = (job: Pick<CellsJob, 'cells' | 'repeats'>): number => job.cells.filter((c) => c.run).length * job.repeats;

/** The manifest's cells before any run: refused ones carry their reason already. */
export function initialCells(cells: readonly PlannedCell[]): GridCell[] {
  return cells.map((c) => ({ coords: c.coords, label: c.label, status: c.refused ? 'refused' : 'pending', reason: c.refused, variant: c.run?.variant }));
}

/**
 * A grid's or matrix's cells, interleaved with rotation over `repeats` rounds (app/run-stats.ts).
 * A cell the engine refuses (conflicting options) or that fails is marked so, with the reason,
 * and not run again; the others go on. Metrics are against the reference cell's first image.
 */
export async function runCells(ctx: JobContext, job: CellsJob, m: HistoryManifest): Promise<HistoryManifest> {
  const g: GridSection = m.grid!;
  const totals: { ms: number; first: boolean }[][] = job.cells.map(() => []);
  const images: (Pixels | undefined)[] = [];
  const runnable = job.cells.flatMap((c, i) => (c.run ? [i] : []));
  let done = 0;
  for (const { cell: k, repeat } of interleavedOrder(runnable.length, job.repeats)) {
    const i = runnable[k]!, c = job.cells[i]!, out = g.cells[i]!;
    if (out.status === 'refused' || out.status === 'failed') continue;
    try {
      const { result, images: imgs } = await runOne(ctx, job.jobId, { run: done, label: c.label, side: 'job', repeat }, { model: job.model, params: c.run!.params, inputs: job.inputs, variant: c.run!.variant }, !images[i]);
      m.model = { dir: result.model.dir, name: result.model.name, hash: result.model.hash };
      totals[i]!.push({ ms: result.timings.totalMs, first: result.firstRun });
      if (!images[i]) {
        images[i] = quantise(imgs[0]!);
        out.image = `grid/c${i}.png`;
        out.summary = result.summary;
        out.fullSteps = result.fullSteps.length;
        out.steps = result.timings.stepMs.length;
        ctx.history.writeFile(m.id, out.image, pixelsPng(images[i]!, pngText(result, c.label)));
        if (i === g.reference) {
          ctx.history.writeFile(m.id, 'thumb.png', thumbnail(images[i]!, undefined));
          m.thumb = 'thumb.png';
        }
        fillMetrics(g, images, i === g.reference ? undefined : i);
      }
      Object.assign(out, cellFigures(totals[i]!), { status: 'ran' as const });
    } catch (e) {
      if (isCancelled(e)) throw e;
      Object.assign(out, { status: isRefused(e) ? 'refused' : 'failed', reason: (e as Error).message });
    }
    ctx.progress(++done);
    ctx.history.save(m);
    ctx.emit('history.changed', { id: m.id, removed: false });
  }
  return { ...m, status: 'done', finishedAt: nowIso() };
}

/** Steady-state spread of a cell's totals; a session's first run apart (all of them if only first runs ran). */
function cellFigures(runs: readonly { ms: number; first: boolean }[]): Pick<GridCell, 'latency' | 'firstMs' | 'firstOnly'> {
  const steady = runs.filter((r) => !r.first).map((r) => r.ms);
  const first = runs.find((r) => r.first)?.ms;
  const s = spread(steady.length ? steady : runs.map((r) => r.ms));
  return { latency: { n: s.n, median: s.median, q1: s.q1, q3: s.q3, min: s.min, max: s.max }, firstMs: first, firstOnly: !steady.length };
}

/** SSIM and PSNR against the reference cell's image, of cell `only` or of all (cells of another size have none). */
function fillMetrics(g: GridSection, images: readonly (Pixels | undefined)[], only?: number): void {
  const ref = images[g.reference];
  if (!ref) return;
  g.cells.forEach((c, i) => {
    const img = images[i];
    if (only !== undefined && i !== only) return;
    if (!img || img.width !== ref.width || img.height !== ref.height) return;
    c.ssim = ssim(ref, img).mean;
    c.psnr = psnr(ref, img);
  });
}
