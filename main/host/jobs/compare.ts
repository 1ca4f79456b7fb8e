import type { RunResult } from '../../../app/contract';
import type { CompareRequest, HistoryManifest, Side } from '../../../app/studio';
import type { Pixels } from '../../../app/metrics';
import { infotext } from '../../../engine/image/infotext';
import { compareImages, diffPng, pixelsPng, quantise, thumbnail } from '../images';
import { nowIso, runOne, type JobContext } from './context';

export const compareRuns = (req: CompareRequest): number => req.repeats * 2;

/** Infotext for a variant's PNG: A1111's parameters plus the model, provider and variant. */
export function pngText(result: Pick<RunResult, 'params' | 'model' | 'provider' | 'providerLabel' | 'summary'>, label: string): Record<string, string> {
  return { parameters: infotext(result.params, { 'Model hash': result.model.hash, Model: result.model.name, Provider: result.providerLabel ?? result.provider, Variant: `${label}: ${result.summary}` }) };
}

/**
 * A and B on identical inputs, interleaved A, B, A, B… so drift (heat, other load) hits both
 * alike. The manifest is saved after every run: a crash or kill keeps what finished.
 */
export async function runCompare(ctx: JobContext, req: CompareRequest, m: HistoryManifest): Promise<HistoryManifest> {
  const c = m.compare!;
  const images: Partial<Record<Side, Pixels>> = {};
  let run = 0;
  for (let repeat = 0; repeat < req.repeats; repeat++) {
    for (const side of ['A', 'B'] as const) {
      const variant = side === 'A' ? req.a : req.b;
      const { result, images: out } = await runOne(ctx, req.jobId, { run, label: variant.label, side, repeat }, { model: req.model, params: req.params, inputs: req.inputs, variant }, req.previews);
      c.runs.push({ side, repeat, result });
      m.model = { dir: result.model.dir, name: result.model.name, hash: result.model.hash };
      if (!images[side]) {
        images[side] = quantise(out[0]!);
        const file = side === 'A' ? 'a.png' : 'b.png';
        ctx.history.writeFile(m.id, file, pixelsPng(images[side], pngText(result, variant.label)));
        c.images[side === 'A' ? 'a' : 'b'] = file;
      }
      if (repeat === 0 && side === 'A') {
        ctx.history.writeFile(m.id, 'thumb.png', thumbnail(images.A!, undefined));
        m.thumb = 'thumb.png';
      }
      ctx.history.save(m);
      ctx.progress(++run);
    }
    if (repeat === 0) {
      const { diff, ssimMap: _, ...metrics } = compareImages(images.A!, images.B!);
      ctx.history.writeFile(m.id, 'diff.png', diffPng(images.A!.width, images.A!.height, diff, metrics.maxDiff));
      ctx.history.writeFile(m.id, 'thumb.png', thumbnail(images.A!, images.B!));
      c.images.diff = 'diff.png';
      c.metrics = metrics;
      ctx.history.save(m);
    }
  }
  return { ...m, status: 'done', finishedAt: nowIso() };
}
