/**
 * The engine's own time per denoising step at SD1.5's shapes (512x512: 64x64 latents, CFG batch 2, 50 DDIM
 * steps), measured on any machine: the tiny fixture's folder with a UNet that only scales its sample, so
 * session.run costs ~0.1 ms and what is left of a step is the scheduler, CFG, feeds and checks. The GPU
 * table's overhead row (bench/results-gpu.md) is this work plus the provider's; this one needs no GPU.
 *   npm run bench:overhead [-- --runs 8 --steps 50 --out bench/results-overhead.md]
 */
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import onnxProto from 'onnx-proto';
import type { RunEvent } from '../app/contract';
import { median } from '../app/metrics';
import { machine } from '../engine/cli/bench';
import { Engine } from '../engine/engine';
import { encodeModel } from '../engine/onnx/model-proto';
import { medianSplit, overheadSplit } from './gpu/overhead';

const f = new Command().option('--runs <n>', 'timed images after a first one', '8').option('--steps <n>', 'DDIM steps', '50')
  .option('--out <file>', 'markdown table to write').parse().opts<{ runs: string; steps: string; out?: string }>();
const { onnx } = onnxProto;
const T = onnx.TensorProto.DataType;
const io = (name: string) => ({ name, type: { tensorType: { elemType: T.FLOAT } } });

const dir = mkdtempSync(join(tmpdir(), 'step-overhead-'));
const model = join(dir, 'model');
cpSync(join(import.meta.dirname, '../test/fixtures/tiny-sd'), model, { recursive: true });
writeFileSync(join(model, 'unet', 'model.onnx'), encodeModel({
  irVersion: 8, opsetImport: [{ domain: '', version: 17 }],
  graph: {
    name: 'scale-only unet', input: [io('sample'), io('timestep'), io('encoder_hidden_states')], output: [io('out_sample')],
    node: [{ opType: 'Mul', input: ['sample', 'k'], output: ['out_sample'], name: 'scale' }],
    initializer: [{ name: 'k', dataType: T.FLOAT, dims: [], floatData: [0.1] }],
  },
}));

const engine = new Engine(join(dir, 'cache'));
const params = { prompt: 'a photo of an astronaut riding a horse on the moon', negativePrompt: '', seed: 42, guidance: 7.5, width: 512, height: 512, scheduler: 'ddim', steps: Number(f.steps) };
const perStep: number[] = [], splits = [], images: number[] = [];
for (let r = 0; r <= Number(f.runs); r++) {
  const events: RunEvent[] = [];
  const { result } = await engine.run({ model, params, variant: { provider: 'cpu' }, inputs: {} }, { onEvent: (e) => events.push(e) });
  if (r === 0) continue; // the first run opens the sessions and warms the JIT
  const t = result.timings;
  perStep.push(median(t.stepMs.map((ms, i) => ms - t.stepOnnxMs[i]!)));
  splits.push(overheadSplit(t, events));
  images.push(t.totalMs);
}
await engine.release();
rmSync(dir, { recursive: true, force: true });

const s = medianSplit(splits)!;
const table = [
  `Machine: ${machine()}. ${f.steps} DDIM steps at 512x512 (64x64 latents), CFG 7.5 (UNet batch 2), CPU provider, a UNet that only scales its sample; medians of ${f.runs} images after a first one.`,
  '',
  '| engine time outside session.run, per step | all steps | the denoise stage outside its steps | text encoder stage outside its graph | VAE decoder stage outside its graph | between stages | whole image (tiny VAE at 512x512 included) |',
  '| --- | --- | --- | --- | --- | --- | --- |',
  `| ${median(perStep).toFixed(3)} ms | ${s.stepsMs.toFixed(1)} ms | ${s.loopMs.toFixed(1)} ms | ${s.textEncoderMs.toFixed(1)} ms | ${s.vaeDecoderMs.toFixed(1)} ms | ${s.restMs.toFixed(1)} ms | ${median(images).toFixed(0)} ms |`,
].join('\n');
console.log(table);
if (f.out) writeFileSync(f.out, `${table}\n`);
