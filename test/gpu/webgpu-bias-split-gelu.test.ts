/**
 * onnxruntime-node 1.29's WebGPU BiasSplitGelu in fp16: fails in a process where no fp32 one has run
 * ("raw_hash_map<>::at"; SD1.5's fp16 UNet on the H200's adapter failed so), and after one has it
 * runs but computes the wrong values (it seems to get the fp32 program). So the engine refuses it
 * in fp16 on WebGPU (engine/accelerations/sd-fusions.ts FP16_BROKEN). These say when that can go.
 * Each case is a fresh Node process, since what happens depends on what ran before in the process.
 */
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { probeProvider } from '../../engine/accelerations/provider';
import { encodeModel } from '../../engine/onnx/model-proto';
import { FLOAT, FLOAT16 } from '../../engine/onnx/tensor-data';

const webgpu = await probeProvider('webgpu');
const ORT = createRequire(import.meta.url).resolve('onnxruntime-node');
const WIDTH = 1280; // SD1.5's first GEGLU: 2560 projected, split in two

/** One BiasSplitGelu node, x [1, 1, 2·width] and bias [2·width] as inputs, in `elemType` (ONNX's type number). */
function biasSplitGeluModel(elemType: number, width: number): Uint8Array {
  const vi = (name: string, dim: number[]) => ({ name, type: { tensorType: { elemType, shape: { dim: dim.map((dimValue) => ({ dimValue })) } } } });
  return encodeModel({
    irVersion: 8, opsetImport: [{ domain: '', version: 17 }, { domain: 'com.microsoft', version: 1 }],
    graph: {
      name: 'bias-split-gelu', node: [{ opType: 'BiasSplitGelu', domain: 'com.microsoft', input: ['x', 'bias'], output: ['y'], name: 'bsg' }],
      input: [vi('x', [1, 1, 2 * width]), vi('bias', [2 * width])], output: [vi('y', [1, 1, width])],
    },
  });
}

/** Runs each model in order in one fresh process; per model 'runs' with the output's max error against h·gelu(g), or the error. */
async function inFreshProcess(models: { type: number; width: number; bytes: Uint8Array }[]): Promise<string[]> {
  const code = `
    const ort = require(${JSON.stringify(ORT)});
    const { Float16Array } = require(${JSON.stringify(createRequire(import.meta.url).resolve('@petamoriken/float16'))});
    const erf = (x) => { const t = 1 / (1 + 0.3275911 * Math.abs(x)); const y = 1 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x); return x < 0 ? -y : y; };
    (async () => {
      const out = [];
      for (const m of ${JSON.stringify(models.map((m) => ({ type: m.type, width: m.width, b64: Buffer.from(m.bytes).toString('base64') })))}) {
        const n = 2 * m.width, half = m.type === ${FLOAT16};
        const x = Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37)), bias = Float32Array.from({ length: n }, (_, i) => Math.cos(i * 0.11) * 0.3);
        const T = (v, dims) => half ? new ort.Tensor('float16', new Uint16Array(new Float16Array(v).buffer), dims) : new ort.Tensor('float32', v, dims);
        try {
          const s = await ort.InferenceSession.create(Buffer.from(m.b64, 'base64'), { executionProviders: ['webgpu'], logSeverityLevel: 4 });
          const y = (await s.run({ x: T(x, [1, 1, n]), bias: T(bias, [n]) })).y;
          const got = half ? new Float16Array(y.data.buffer, y.data.byteOffset, y.data.length) : y.data;
          let err = 0;
          for (let i = 0; i < n / 2; i++) { const h = x[i] + bias[i], g = x[i + n / 2] + bias[i + n / 2]; err = Math.max(err, Math.abs(got[i] - h * 0.5 * g * (1 + erf(g / Math.SQRT2)))); }
          out.push('runs ' + err);
        } catch (e) { out.push(String(e.message).split('\\n')[0]); }
      }
      console.log(JSON.stringify(out));
    })();`;
  const { stdout } = await promisify(execFile)(process.execPath, ['-e', code], { timeout: 120_000, maxBuffer: 8 << 20 });
  return JSON.parse(stdout.trim().split('\n').at(-1)!);
}

const fp16 = { type: FLOAT16, width: WIDTH, bytes: biasSplitGeluModel(FLOAT16, WIDTH) };
const fp32 = { type: FLOAT, width: 8, bytes: biasSplitGeluModel(FLOAT, 8) };

describe.skipIf(!webgpu.available && !process.env.CI)('WebGPU BiasSplitGelu in fp16 (onnxruntime-node 1.29)', () => {
  it('fails when it is the first BiasSplitGelu of the process (when this test fails, see the next and FP16_BROKEN)', async () => {
    if (!webgpu.available) throw new Error(`CI: the WebGPU provider must be available: ${webgpu.reason}`);
    const [first] = await inFreshProcess([fp16]);
    expect(first).toMatch(/raw_hash_map<>::at/);
  }, 150_000);

  it('after one fp32 BiasSplitGelu it runs, wrong (when this test fails, onnxruntime fixed it: drop FP16_BROKEN.biasSplitGelu)', async () => {
    const [primer, after] = await inFreshProcess([fp32, fp16]);
    expect(primer).toMatch(/^runs /);
    expect(after).toMatch(/^runs /);
    // measured 1.30 on llvmpipe; fp16 rounding of values up to ~3 would be under 1e-2
    expect(Number(after!.split(' ')[1])).toBeGreaterThan(0.1);
  }, 150_000);
});
