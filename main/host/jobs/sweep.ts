import { median, psnr, spread, ssim, type Pixels } from '../../../app/metrics';
import { interleavedOrder } from '../../../app/run-stats';
import type { HistoryManifest, SweepRequest } from '../../../app/studio';
import type { Variant } from '../../../app/variant';
import { pixelsPng, quantise, thumbnail } from '../images';
import { pngText } from './compare';
import { nowIso, runOne, type JobContext } from './context';

/** Interval 1 is the reference every point's SSIM is measured against, so it always runs. */
export const sweepIntervals = (req: SweepRequest): number[] => [...new Set([1, ...req.intervals])].sort((a, b) => a - b);
/** Per branch: one warm-up run (sessions, first-inference costs), then every interval × repeats. */
export const sweepRuns = (req: SweepRequest): number => req.branches.length * (1 + sweepIntervals(req).length * req.repeats);

/**
 * DeepCache sweep: each branch × interval on the base variant. After a warm-up per branch, the
 * cells run interleaved over `repeats` rounds, each round's order rotated (app/run-stats.ts), so
 * drift in the machine's speed spreads over every cell instead of landing on the last ones.
 * Latency is the median total with its spread; SSIM and PSNR are against the interval-1 image
 * of the first branch.
 */
export async function runSweep(ctx: JobContext, req: SweepRequest, m: HistoryManifest): Promise<HistoryManifest> {
  const s = m.sweep!;
  const cells = req.branches.flatMap((branch) => sweepIntervals(req).map((interval) => ({ branch, interval, totals: [] as number[], denoise: [] as number[], fullSteps: 0, img: undefined as Pixels | undefined, ssim: 0, psnr: null as number | null })));
  const variant = (interval: number, branch: number): Variant => ({ ...req.base, label: `N=${interval} b${branch}`, deepcache: { interval, branch, schedule: 'uniform' } });
  const request = (interval: number, branch: number) => ({ model: req.model, params: req.params, inputs: req.inputs, variant: variant(interval, branch) });
  let reference: Pixels | undefined;
  let run = 0;
  for (const branch of req.branches) {
    await runOne(ctx, req.jobId, { run, label: `warm-up b${branch}`, side: `warm-up b${branch}`, repeat: 0 }, request(1, branch), false);
    ctx.progress(++run);
  }
  for (const { cell: k, repeat } of interleavedOrder(cells.length, req.repeats)) {
    const c = cells[k]!, label = variant(c.interval, c.branch).label;
    const { result, images } = await runOne(ctx, req.jobId, { run, label, side: label, repeat }, request(c.interval, c.branch), !c.img);
    c.totals.push(result.timings.totalMs);
    c.denoise.push(result.timings.denoiseMs);
    c.fullSteps = result.fullSteps.length;
    m.model = { dir: result.model.dir, name: result.model.name, hash: result.model.hash };
    const image = `sweep/i${c.interval}-b${c.branch}.png`;
    if (!c.img) {
      c.img = quantise(images[0]!);
      ctx.history.writeFile(m.id, image, pixelsPng(c.img, pngText(result, label)));
      if (c.branch === req.branches[0] && c.interval === 1) {
        reference = c.img;
        s.reference = image;
        ctx.history.writeFile(m.id, 'thumb.png', thumbnail(c.img, undefined));
        m.thumb = 'thumb.png';
      }
      // the reference is cell 0, first in round 0: every later image has it to compare against
      c.ssim = ssim(reference!, c.img).mean;
      c.psnr = psnr(reference!, c.img);
    }
    ctx.progress(++run);
    // points as the rounds fill in: each one's figures over the repeats so far, in cell order
    s.points = cells.filter((p) => p.img).map((p) => {
      const t = spread(p.totals);
      return {
        interval: p.interval, branch: p.branch, latencyMs: t.median, denoiseMs: median(p.denoise), n: t.n, q1: t.q1, q3: t.q3, min: t.min, max: t.max,
        fullSteps: p.fullSteps, ssim: p.ssim, psnr: p.psnr, image: `sweep/i${p.interval}-b${p.branch}.png`,
      };
    });
    ctx.history.save(m);
    ctx.emit('history.changed', { id: m.id, removed: false });
  }
  return { ...m, status: 'done', finishedAt: nowIso() };
}
