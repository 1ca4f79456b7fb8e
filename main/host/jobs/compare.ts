import { findBaseline, type BaselineKey, type BaselineUse } from '../../../app/baseline';
import type { RunResult } from '../../../app/contract';
import { StepTrajectory, type CompareRequest, type HistoryManifest, type Side } from '../../../app/studio';
import type { Pixels } from '../../../app/metrics';
import { infotext } from '../../../engine/image/infotext';
import { decodePng } from '../../../engine/image/png';
import type { HistoryStore } from '../history';
import { compareImages, diffPng, pixelsPng, quantise, thumbnail } from '../images';
import { nowIso, runOne, type JobContext } from './context';
import { TrajectoryRecorder } from './trajectory';

export const compareRuns = (req: CompareRequest): number => req.repeats * 2;

/** Infotext for a variant's PNG: A1111's parameters plus the model, provider and variant. */
export function pngText(result: Pick<RunResult, 'params' | 'model' | 'provider' | 'providerLabel' | 'summary'>, label: string): Record<string, string> {
  return { parameters: infotext(result.params, { 'Model hash': result.model.hash, Model: result.model.name, Provider: result.providerLabel ?? result.provider, Variant: `${label}: ${result.summary}` }) };
}

/** The newest earlier entry whose A stands for this one (same key), or why A re-runs. */
export function chooseBaseline(history: HistoryStore, id: string, key: BaselineKey): { use: BaselineUse; from?: HistoryManifest } {
  const earlier = history.manifests().filter((m) => m.id !== id && m.status === 'done' && m.compare?.aKey && m.compare.images.a);
  const use = findBaseline(key, earlier.map((m) => ({ id: m.id, key: m.compare!.aKey! })));
  return { use, from: earlier.find((m) => m.id === use.reusedFrom) };
}

/** An earlier entry's A: its runs, its PNG, and its trajectory where it kept one. */
function reuseA(history: HistoryStore, from: HistoryManifest, m: HistoryManifest, traj: TrajectoryRecorder): Pixels {
  const c = m.compare!, png = history.readFile(from.id, from.compare!.images.a!);
  c.runs.push(...from.compare!.runs.filter((r) => r.side === 'A'));
  history.writeFile(m.id, 'a.png', png);
  c.images.a = 'a.png';
  if (from.compare!.steps) {
    const t = StepTrajectory.parse(JSON.parse(history.readFile(from.id, from.compare!.steps).toString('utf8')));
    traj.restoreA(t, t.latentLength ? history.readFile(from.id, 'latents-a.bin') : undefined);
  }
  return quantise(decodePng(png, `${from.id}/a.png`));
}

/**
 * A and B on identical inputs, interleaved A, B, A, B… so drift (heat, other load) hits both
 * alike; A's runs come from an earlier entry instead when asked and its key is unchanged. The
 * manifest is saved after every run: a crash or kill keeps what finished.
 */
export async function runCompare(ctx: JobContext, req: CompareRequest, m: HistoryManifest, key: BaselineKey): Promise<HistoryManifest> {
  const c = m.compare!;
  c.aKey = key;
  const images: Partial<Record<Side, Pixels>> = {};
  const traj = new TrajectoryRecorder();
  let run = 0;
  if (req.reuseA) {
    const { use, from } = chooseBaseline(ctx.history, m.id, key);
    c.baseline = use;
    if (from) {
      images.A = reuseA(ctx.history, from, m, traj);
      run = req.repeats;
      ctx.progress(run, use.message);
    }
    ctx.history.save(m);
  }
  const sides = images.A ? (['B'] as const) : (['A', 'B'] as const);
  for (let repeat = 0; repeat < req.repeats; repeat++) {
    for (const side of sides) {
      const variant = side === 'A' ? req.a : req.b;
      const at = { run, label: variant.label, side, repeat };
      const { result, images: out } = await runOne(ctx, req.jobId, at, { model: req.model, params: req.params, inputs: req.inputs, variant }, req.previews, repeat === 0 ? traj.recorder(side) : undefined);
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
      m.thumb = 'thumb.png';
      if (req.previews) saveTrajectory(ctx.history, m, traj);
      ctx.history.save(m);
    }
  }
  return { ...m, status: 'done', finishedAt: nowIso() };
}

function saveTrajectory(history: HistoryStore, m: HistoryManifest, traj: TrajectoryRecorder): void {
  const c = m.compare!, first = (side: Side) => c.runs.find((r) => r.side === side && r.repeat === 0)?.result.fullSteps ?? [];
  const t = traj.result({ A: first('A'), B: first('B') });
  const a = traj.latentsA();
  if (a) history.writeFile(m.id, 'latents-a.bin', a.bin);
  history.writeFile(m.id, 'steps.json', JSON.stringify(t));
  c.steps = 'steps.json';
}
