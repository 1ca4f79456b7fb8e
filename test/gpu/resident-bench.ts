/**
 * A measurement, not a test: ms per denoising step on WebGPU (steady, after a warm-up run), with
 * previews (latents to the host every step) and without, and the host transfers per step. It only
 * uses Engine.run, so `--root` can point at another checkout (main) for the before/after:
 *   npx tsx test/gpu/resident-bench.ts --model <diffusers ONNX folder> [--root <checkout>] [--steps 20] [--size 512] [--repeats 3]
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { median } from '../../app/metrics';

const { values: a } = parseArgs({ options: { root: { type: 'string', default: '.' }, model: { type: 'string' }, steps: { type: 'string', default: '20' }, size: { type: 'string', default: '512' }, repeats: { type: 'string', default: '3' }, schedulers: { type: 'string', default: 'euler,dpmpp-2m' } } });
if (!a.model) throw new Error('--model <diffusers ONNX folder> is required');
const [steps, size, repeats] = [a.steps, a.size, a.repeats].map((v, i) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${['steps', 'size', 'repeats'][i]} must be a positive integer, got ${v}`);
  return n;
});
const { Engine } = await import(join(resolve(a.root), 'engine/engine.ts'));
const engine = new Engine(join(mkdtempSync(join(tmpdir(), 'resident-bench-')), 'cache'));
const mean = (x: number[]): number => x.reduce((p, q) => p + q, 0) / x.length;

for (const scheduler of a.schedulers.split(',')) {
  for (const previews of [true, false]) {
    const per: number[] = [];
    let transfers: number[] = [];
    for (let r = 0; r <= repeats; r++) {
      const { result } = await engine.run(
        { model: resolve(a.model), params: { prompt: 'a red cube on a table', negativePrompt: 'blurry', seed: 7, guidance: 7.5, width: size, height: size, steps, scheduler }, variant: { provider: 'webgpu' }, inputs: {} },
        previews ? { onLatents: () => {} } : {},
      );
      if (result.provider !== 'webgpu') throw new Error(`the run used ${result.provider}, not webgpu`);
      if (r === 0) continue; // warm-up: shader compiles
      per.push(mean(result.timings.stepMs.slice(1)));
      transfers = result.timings.stepTransfers;
    }
    console.log(`${a.root} ${scheduler} previews=${previews}: ${median(per).toFixed(1)} ms/step (median of ${repeats} runs: ${per.map((x) => x.toFixed(1)).join(' ')}), transfers per step ${JSON.stringify(transfers)}`);
  }
}
await engine.release();
