/**
 * The scheduler step graph (what the GPU-resident loop runs on WebGPU), run here on the CPU
 * provider: a whole trajectory against the scheduler's own host step on the same model outputs.
 */
import ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { guide, repeat } from '../../engine/pipeline/loop';
import { COEFFICIENTS, stepGraph, stepTable } from '../../engine/pipeline/step-graph';
import { createScheduler } from '../../engine/schedulers/registry';
import { isLinear, scale } from '../../engine/schedulers/scheduler';

const SD = { beta_end: 0.012, beta_schedule: 'scaled_linear', beta_start: 0.00085, num_train_timesteps: 1000, set_alpha_to_one: false, steps_offset: 1, clip_sample: false };
const SHAPE = [1, 4, 3, 5];
const N = SHAPE.reduce((a, b) => a * b);

let seed = 3;
const rand = (n: number): Float32Array => Float32Array.from({ length: n }, () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1);
/** Largest difference relative to the reference's largest magnitude (float32 rounding grows with it). */
const relDiff = (a: Float32Array, ref: Float32Array): number => Math.max(...a.map((v, k) => Math.abs(v - ref[k]!))) / Math.max(1, ...ref.map(Math.abs));
const f32 = (data: Float32Array, dims: number[]) => new ort.Tensor('float32', data, dims);

const CASES: { name: string; scheduler: string; config?: Record<string, unknown>; guided: boolean[] }[] = [
  { name: 'ddim, clipped x0', scheduler: 'ddim', config: { clip_sample: true, clip_sample_range: 0.5 }, guided: [true, true, true, true] },
  { name: 'ddim, v-prediction', scheduler: 'ddim', config: { prediction_type: 'v_prediction' }, guided: [true, true, true, true] },
  { name: 'euler (input scale)', scheduler: 'euler', guided: [true, true, true, true] },
  { name: 'euler-a (noise)', scheduler: 'euler-a', guided: [true, true, true, true] },
  { name: 'dpm++ 2m (previous x0)', scheduler: 'dpmpp-2m', guided: [true, true, true, true, true] },
  { name: 'dpm++ 2m karras, guidance dropped after 2 steps', scheduler: 'dpmpp-2m-karras', guided: [true, true, false, false] },
  { name: 'lcm (re-noised but the last)', scheduler: 'lcm', guided: [false, false, false] },
];

describe('the scheduler step graph equals the host step', () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const g = 7.5, n = c.guided.length;
      const host = createScheduler(c.scheduler, { ...SD, ...c.config }), dev = createScheduler(c.scheduler, { ...SD, ...c.config });
      host.setTimesteps(n);
      dev.setTimesteps(n);
      if (!isLinear(dev)) throw new Error(`${c.scheduler} has no linear step`);
      const { table, scales, steps, clip } = stepTable(dev, dev.timesteps, g);
      const sessions = new Map<string, ort.InferenceSession>();
      const open = async (guided: boolean, repeatNext: 1 | 2) => {
        const key = `${guided} ${repeatNext}`;
        if (!sessions.has(key)) sessions.set(key, await ort.InferenceSession.create(stepGraph({ guided, repeatNext, clip, outType: 'float32', sampleType: 'float32' })));
        return sessions.get(key)!;
      };
      const x0 = rand(N);
      let xh = x0, xd: ort.Tensor = f32(x0, SHAPE), prevX0 = xd, step: ort.Tensor = new ort.Tensor('int32', Int32Array.of(0), [1]);
      let sample = scale(c.guided[0] ? repeat(x0, 2) : x0, scales[0]!);
      for (const [i, t] of host.timesteps.entries()) {
        const rows = c.guided[i] ? 2 : 1;
        // the sample the graph made for this step is the host loop's scaled model input
        const hostSample = host.scaleModelInput(rows === 2 ? repeat(xh, 2) : xh, t);
        expect(relDiff(sample, hostSample)).toBeLessThan(1e-5);
        const out = rand(N * rows), z = rand(N);
        xh = host.step(rows === 2 ? guide(out, g) : out, t, xh, () => z);
        const s = await open(c.guided[i]!, (c.guided[i + 1] ?? c.guided[i]) ? 2 : 1);
        const r = await s.run({ out: f32(out, [rows, ...SHAPE.slice(1)]), x: xd, x0_prev: prevX0, z: steps[i]!.noise ? f32(z, SHAPE) : xd, coefficients: f32(table, [n, COEFFICIENTS.length]), step });
        xd = r.latents as ort.Tensor;
        prevX0 = r.x0 as ort.Tensor;
        step = r.next_step as ort.Tensor;
        sample = (r.sample as ort.Tensor).data as Float32Array;
        expect(Number(step.data[0])).toBe(i + 1);
        expect(relDiff(xd.data as Float32Array, xh)).toBeLessThan(1e-5);
      }
    });
  }

  it('PNDM has no linear step (the loop keeps it on the host)', () => {
    expect(isLinear(createScheduler('pndm', SD))).toBe(false);
  });
});
