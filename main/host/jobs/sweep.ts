import { median, psnr, ssim, type Pixels } from '../../../app/metrics';
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
 * DeepCache sweep: each branch × interval on the base variant. Latency is the median total over
 * the repeats after a warm-up; SSIM and PSNR are against the interval-1 image of the first branch.
 */
export async function runSweep(ctx: JobContext, req: SweepRequest, m: HistoryManifest): Promise<HistoryManifest> {
  const s = m.sweep!;
  const intervals = sweepIntervals(req);
  let reference: Pixels | undefined;
  let run = 0;
  for (const branch of req.branches) {
    const variant = (interval: number): Variant => ({ ...req.base, label: `N=${interval} b${branch}`, deepcache: { interval, branch, schedule: 'uniform' } });
    const request = (interval: number) => ({ model: req.model, params: req.params, inputs: req.inputs, variant: variant(interval) });
    await runOne(ctx, req.jobId, { run, label: `warm-up b${branch}`, side: `warm-up b${branch}`, repeat: 0 }, request(1), false);
    ctx.progress(++run);
    for (const interval of intervals) {
      const totals: number[] = [], denoise: number[] = [];
      let img: Pixels | undefined, fullSteps = 0;
      for (let repeat = 0; repeat < req.repeats; repeat++) {
        const label = variant(interval).label;
        const { result, images } = await runOne(ctx, req.jobId, { run, label, side: label, repeat }, request(interval), repeat === 0);
        totals.push(result.timings.totalMs);
        denoise.push(result.timings.denoiseMs);
        fullSteps = result.fullSteps.length;
        m.model = { dir: result.model.dir, name: result.model.name, hash: result.model.hash };
        if (!img) {
          img = quantise(images[0]!);
          const file = `sweep/i${interval}-b${branch}.png`;
          ctx.history.writeFile(m.id, file, pixelsPng(img, pngText(result, label)));
          if (!reference) {
            reference = img;
            s.reference = file;
            ctx.history.writeFile(m.id, 'thumb.png', thumbnail(img, undefined));
            m.thumb = 'thumb.png';
          }
        }
        ctx.progress(++run);
      }
      s.points.push({
        interval, branch, latencyMs: median(totals), denoiseMs: median(denoise), fullSteps,
        ssim: ssim(reference!, img!).mean, psnr: psnr(reference!, img!), image: `sweep/i${interval}-b${branch}.png`,
      });
      ctx.history.save(m);
      ctx.emit('history.changed', { id: m.id, removed: false });
    }
  }
  return { ...m, status: 'done', finishedAt: nowIso() };
}
