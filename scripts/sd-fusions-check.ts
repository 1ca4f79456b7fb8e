/**
 * Each SD-fusion part's graph against the unfused one on a GPU provider (the CPU has no kernels for
 * them; test/unit/sd-fusions-rewiring.test.ts checks the rewiring there). For the tiny-sd and
 * emoji-sd UNets and the tiny-sd VAE decoder, fp32 and the engine's fp16 conversion of each fused
 * graph: max |Δ| against the unfused graph of the same precision, and the median of 20 runs.
 *   node scripts/sd-fusions-check.ts [cuda|webgpu]     (tsx, or bundled: see the report of branch fusions)
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { SD_FUSION_PARTS, type SdFusionPart } from '../app/accelerations/sd-fusions';
import { median } from '../app/metrics';
import { fuseSd } from '../engine/accelerations/sd-fusions';
import { convertToHalf } from '../engine/onnx/fp16';
import { linkExternalData } from '../engine/onnx/graph-cache';
import { readModel, writeModel } from '../engine/onnx/model-proto';

const provider = process.argv[2] ?? 'cuda';
const dir = mkdtempSync(join(tmpdir(), 'sdf-check-'));
const rnd = (n: number, k: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + k));
const maxAbs = (a: Float32Array, b: Float32Array) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i]!)), 0);

async function timed(path: string, feeds: Record<string, ort.Tensor>): Promise<{ y: Float32Array; ms: number }> {
  const s = await ort.InferenceSession.create(path, { executionProviders: [provider], logSeverityLevel: 3 });
  let out = await s.run(feeds);
  const ts: number[] = [];
  for (let i = 0; i < 20; i++) {
    const t0 = performance.now();
    out = await s.run(feeds);
    ts.push(performance.now() - t0);
  }
  await s.release();
  return { y: out[s.outputNames[0]!]!.data as Float32Array, ms: median(ts) };
}

const unet = (hw: number, ctx: number) => ({
  sample: new ort.Tensor('float32', rnd(2 * 4 * hw * hw, 1), [2, 4, hw, hw]),
  timestep: new ort.Tensor('float32', Float32Array.of(500), [1]),
  encoder_hidden_states: new ort.Tensor('float32', rnd(2 * 77 * ctx, 2), [2, 77, ctx]),
});
const GRAPHS = [
  ['tiny-sd unet', 'test/fixtures/tiny-sd/unet/model.onnx', unet(8, 32)],
  ['emoji-sd unet', 'assets/models/emoji-sd/unet/model.onnx', unet(16, 128)],
  ['tiny-sd vae_decoder', 'test/fixtures/tiny-sd/vae_decoder/model.onnx', { latent_sample: new ort.Tensor('float32', rnd(4 * 16 * 16, 1), [1, 4, 16, 16]) }],
] as const;

for (const [name, file, feeds] of GRAPHS) {
  const variants: [string, SdFusionPart[]][] = [['none', []], ...SD_FUSION_PARTS.map((p): [string, SdFusionPart[]] => [p, [p]]), ['all', [...SD_FUSION_PARTS]]];
  const base: Record<string, { y: Float32Array; ms: number }> = {};
  for (const [label, parts] of variants) {
    const d = join(dir, `${name.replace(' ', '-')}-${label}`), p32 = join(d, 'model.onnx'), p16 = join(`${d}-fp16`, 'model.onnx');
    const r = fuseSd(readModel(file), file, parts);
    writeModel(p32, r.model);
    linkExternalData(readModel(p32), file, d);
    for (const [prec, path] of [['fp32', p32], ['fp16', p16]] as const) {
      try {
        if (prec === 'fp16') convertToHalf(readModel(p32), p32, p16);
        const o = await timed(path, feeds as Record<string, ort.Tensor>);
        base[prec] ??= o;
        const scale = base[prec].y.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
        console.log(`${name} ${prec} ${label}: ${JSON.stringify(r.report)} nodes ${r.model.graph!.node!.length}; max|Δ| ${maxAbs(o.y, base[prec].y).toExponential(2)} (max|y| ${scale.toFixed(2)}); median ${o.ms.toFixed(2)} ms (unfused ${base[prec].ms.toFixed(2)})`);
      } catch (e) {
        console.log(`${name} ${prec} ${label}: FAILED ${String((e as Error).message).split('\n')[0]}`);
      }
    }
  }
}
