/**
 * A 3x3 Conv on the WebGPU provider against the CPU provider, per input-channel count: on
 * llvmpipe onnxruntime-node 1.29's WebGPU Conv was wrong for 6 and 9 input channels (SD
 * inpainting's conv_in has 9). Prints one line per count, so a real adapter can be checked too.
 *   npx tsx scripts/webgpu-conv-check.ts        (bundled for the GPU machine by bench/gpu/build.mjs)
 */
import ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import { encodeModel } from '../engine/onnx/model-proto';

const { onnx } = onnxProto;
const T = onnx.TensorProto.DataType;
let seed = 5;
const rand = (n: number) => Array.from({ length: n }, () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1);
const vi = (name: string) => ({ name, type: { tensorType: { elemType: T.FLOAT } } });

/** One 3x3 Conv, `cin` input channels to 32, random weights (the same sequence on every call order). */
export function convModel(cin: number): onnxProto.onnx.IModelProto {
  return {
    irVersion: 8, opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'conv', input: [vi('x')], output: [vi('y')],
      node: [{ opType: 'Conv', input: ['x', 'w', 'b'], output: ['y'], name: 'conv', attribute: [{ name: 'pads', type: 7, ints: [1, 1, 1, 1] }, { name: 'kernel_shape', type: 7, ints: [3, 3] }] }],
      initializer: [{ name: 'w', dataType: T.FLOAT, dims: [32, cin, 3, 3], floatData: rand(32 * cin * 9) }, { name: 'b', dataType: T.FLOAT, dims: [32], floatData: rand(32) }],
    },
  };
}

/** An input for convModel(cin): batch 2, 8x8. */
export const convInput = (cin: number): ort.Tensor => new ort.Tensor('float32', Float32Array.from(rand(2 * cin * 64)), [2, cin, 8, 8]);

/** The graph's output on one provider. */
export async function runConv(bytes: Uint8Array, ep: string, x: ort.Tensor): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(bytes, { executionProviders: [ep], logSeverityLevel: 3 });
  const y = (await s.run({ x })).y!.data as Float32Array;
  await s.release();
  return y;
}

export const maxAbsDiff = (a: Float32Array, b: Float32Array): number => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

export async function convCheck(channels: number[]): Promise<{ cin: number; maxAbs: number; scale: number }[]> {
  const out: { cin: number; maxAbs: number; scale: number }[] = [];
  for (const cin of channels) {
    const bytes = encodeModel(convModel(cin)), x = convInput(cin);
    const [a, b] = [await runConv(bytes, 'cpu', x), await runConv(bytes, 'webgpu', x)];
    out.push({ cin, maxAbs: maxAbsDiff(a, b), scale: a.reduce((m, v) => Math.max(m, Math.abs(v)), 0) });
  }
  return out;
}

if (process.argv[1]?.endsWith('webgpu-conv-check.ts') || process.argv[1]?.endsWith('webgpu-conv-check.mjs')) {
  for (const r of await convCheck(Array.from({ length: 16 }, (_, i) => i + 1))) {
    console.log(`conv ${r.cin}->32 8x8: max|webgpu-cpu| ${r.maxAbs.toExponential(2)} (max|cpu| ${r.scale.toFixed(2)})${r.maxAbs > 1e-3 ? '  WRONG' : ''}`);
  }
}
