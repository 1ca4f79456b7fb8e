/**
 * DeepCache's full step against a plain step, measured apart from the big table: the plain run and
 * DeepCache N=1/3/5 (branch 0) interleaved, every session kept open, step 0 left out; medians.
 * The big table interleaves ~18 rows, whose sessions are re-opened each round (memory), and on a VM
 * whose speed drifts that column was noise (bench/results-cpu.md).
 *   npx tsx bench/deepcache-steps.ts [--runs 8] [--model assets/models/emoji-sd]
 */
import { Command } from 'commander';
import { median } from '../app/metrics';
import { Engine } from '../engine/engine';

const f = new Command().option('--runs <n>', 'timed runs per variant after a first one', '8').option('--model <dir>', 'model folder', 'assets/models/emoji-sd')
  .parse().opts<{ runs: string; model: string }>();
const variants = { plain: {}, 'N=1': { deepcache: { interval: 1, branch: 0 } }, 'N=3': { deepcache: { interval: 3, branch: 0 } }, 'N=5': { deepcache: { interval: 5, branch: 0 } } };
const engine = new Engine(undefined, Object.keys(variants).length);
const params = { prompt: 'grinning face, twemoji style', seed: 42, steps: 25, guidance: 7.5 };
const st: Record<string, { full: number[]; cached: number[]; loop: number[] }> = {};
for (let r = 0; r <= Number(f.runs); r++) {
  for (const [k, variant] of Object.entries(variants)) {
    const { result } = await engine.run({ model: f.model, params, variant, inputs: {} });
    if (r === 0) continue;
    const s = (st[k] ??= { full: [], cached: [], loop: [] }), full = new Set(result.fullSteps);
    result.timings.stepMs.forEach((ms, i) => i > 0 && (full.has(i) ? s.full : s.cached).push(ms));
    s.loop.push(result.timings.denoiseMs);
  }
}
await engine.release();
const p = st.plain!;
console.log(`plain step ${median(p.full).toFixed(2)} ms (median of ${p.full.length})`);
for (const [k, s] of Object.entries(st).slice(1)) {
  console.log(`DeepCache ${k}: full step ${(median(s.full) / median(p.full)).toFixed(2)}x a plain one${s.cached.length ? `, cached step ${(median(s.cached) / median(s.full)).toFixed(2)} of a full one` : ''}, loop speed-up ${(median(p.loop) / median(s.loop)).toFixed(2)}x`);
}
