import { randomInt } from 'node:crypto';
import type { BlindRequest, BlindVote } from '../../../app/blind';
import { ssim } from '../../../app/metrics';
import type { HistoryManifest } from '../../../app/studio';
import type { HistoryStore } from '../history';
import { pixelsPng, quantise, thumbnail } from '../images';
import { pngText } from './compare';
import { nowIso, runOne, type JobContext } from './context';

export const blindRuns = (req: BlindRequest): number => req.prompts.length * req.seeds.length * 2;

/**
 * Every prompt × seed as A and B; each pair's sides are drawn at random here (the window never
 * chooses), saved after every pair so a session cut short keeps what ran.
 */
export async function runBlind(ctx: JobContext, req: BlindRequest, m: HistoryManifest): Promise<HistoryManifest> {
  const s = m.blind!;
  let run = 0;
  for (const prompt of req.prompts) {
    for (const seed of req.seeds) {
      const i = s.pairs.length + 1, params = { ...req.params, prompt, seed };
      const out: Record<'a' | 'b', ReturnType<typeof quantise>> = {} as never;
      for (const side of ['a', 'b'] as const) {
        const variant = side === 'a' ? req.a : req.b;
        const { result, images } = await runOne(ctx, req.jobId, { run, label: `pair ${i}`, side: side.toUpperCase(), repeat: 0 }, { model: req.model, params, inputs: req.inputs, variant }, false);
        m.model = { dir: result.model.dir, name: result.model.name, hash: result.model.hash };
        out[side] = quantise(images[0]!);
        ctx.history.writeFile(m.id, `pairs/${i}-${side}.png`, pixelsPng(out[side], pngText(result, variant.label)));
        ctx.progress(++run);
      }
      s.pairs.push({ prompt, seed, left: randomInt(2) ? 'B' : 'A', images: { a: `pairs/${i}-a.png`, b: `pairs/${i}-b.png` }, ssim: ssim(out.a, out.b).mean });
      if (i === 1) {
        ctx.history.writeFile(m.id, 'thumb.png', thumbnail(out.a, out.b));
        m.thumb = 'thumb.png';
      }
      ctx.history.save(m);
    }
  }
  return { ...m, status: 'done', finishedAt: nowIso() };
}

/** One vote, saved atomically with the entry; a pair may be voted again (the last vote counts). */
export function voteBlind(history: HistoryStore, id: string, pair: number, vote: BlindVote, ms: number): HistoryManifest {
  const m = history.get(id);
  if (!m.blind) throw new Error(`history: ${id} is not a blind A/B session`);
  const p = m.blind.pairs[pair];
  if (!p) throw new Error(`blind.vote: session ${id} has no pair ${pair + 1} (it has ${m.blind.pairs.length})`);
  m.blind.pairs[pair] = { ...p, vote, ms, votedAt: nowIso() };
  history.save(m);
  return m;
}
