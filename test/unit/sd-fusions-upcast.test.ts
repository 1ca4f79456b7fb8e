/**
 * SD 2.1's fp16 attention overflow (diffusers' upcast_attention): on a one-head attention whose
 * scores q·kᵀ pass 65504, the plain fp16 conversion gives NaN (inf − inf in Softmax) and the
 * upcast conversion gives the fp32 result within fp16 noise.
 */
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import type { PrepareContext } from '../../engine/accelerations/acceleration';
import { precision } from '../../engine/accelerations/precision';
import { attentionScoreNodes, convertToHalf } from '../../engine/onnx/fp16';
import { makeAttr } from '../../engine/onnx/graph';
import { readModel, writeModel, type ModelProto } from '../../engine/onnx/model-proto';
import { FLOAT } from '../../engine/onnx/tensor-data';

const S = 6, D = 8;
const io = (name: string, dims: number[]) => ({ name, type: { tensorType: { elemType: FLOAT, shape: { dim: dims.map((d) => ({ dimValue: d })) } } } });
const scope = '/m/mid_block/attentions.0/transformer_blocks.0/attn1';

/** out = Softmax(q·kᵀ · c)·v as exported (names in an attention scope, a scale after the MatMul). */
function attentionModel(): ModelProto {
  const c = { name: 'scale', dims: [], dataType: FLOAT, rawData: new Uint8Array(Float32Array.of(1 / Math.sqrt(D)).buffer) };
  return {
    irVersion: 8, opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'attn',
      node: [
        { name: `${scope}/Transpose`, opType: 'Transpose', input: ['k'], output: ['kt'], attribute: [makeAttr('perm', { ints: [0, 2, 1] })] },
        { name: `${scope}/MatMul`, opType: 'MatMul', input: ['q', 'kt'], output: ['scores'] },
        { name: `${scope}/Mul`, opType: 'Mul', input: ['scores', 'scale'], output: ['scaled'] },
        { name: `${scope}/Softmax`, opType: 'Softmax', input: ['scaled'], output: ['probs'], attribute: [makeAttr('axis', { i: -1 })] },
        { name: `${scope}/MatMul_1`, opType: 'MatMul', input: ['probs', 'v'], output: ['out'] },
      ],
      input: [io('q', [1, S, D]), io('k', [1, S, D]), io('v', [1, S, D])],
      output: [io('out', [1, S, D])],
      initializer: [c],
    },
  } as unknown as ModelProto;
}

async function run(path: string): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(path, { executionProviders: ['cpu'], logSeverityLevel: 4 });
  // |q·k| up to 8 · 100 · 100 = 80000 > 65504 (fp16's largest), 28284 after the 1/√8 scale
  const val = (k: number) => Float32Array.from({ length: S * D }, (_, i) => (k === 2 ? Math.cos(i) : 100 * (((i * (k + 3)) % 7) / 6 > 0.3 ? 1 : 0.9)));
  const feeds = Object.fromEntries(['q', 'k', 'v'].map((n, k) => [n, new ort.Tensor('float32', val(k), [1, S, D])]));
  const out = (await s.run(feeds)).out!.data as Float32Array;
  await s.release();
  return out;
}

describe('fp16 conversion honours upcast_attention (SD 2.1)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'upcast-'));
  const src = join(dir, 'fp32.onnx');
  writeModel(src, attentionModel());

  it('the score nodes are the QKᵀ MatMul, its scale and the Softmax (not the probabilities · v MatMul)', () => {
    const names = [...attentionScoreNodes(attentionModel().graph!)].map((n) => n.name);
    expect(names.sort()).toEqual([`${scope}/MatMul`, `${scope}/Mul`, `${scope}/Softmax`]);
  });

  it('plain fp16 overflows to NaN; with upcastAttention the output matches fp32 within fp16 noise', async () => {
    const ref = await run(src);
    expect(ref.every(Number.isFinite)).toBe(true);
    const plain = join(dir, 'half.onnx'), up = join(dir, 'half-upcast.onnx');
    convertToHalf(readModel(src), src, plain);
    const stats = convertToHalf(readModel(src), src, up, { upcastAttention: true });
    expect((await run(plain)).some(Number.isNaN)).toBe(true);
    const fixed = await run(up);
    expect(fixed.every(Number.isFinite)).toBe(true);
    expect(fixed.reduce((m, x, i) => Math.max(m, Math.abs(x - ref[i]!)), 0)).toBeLessThan(2e-2);
    // the scores stay fp32 (and the Transpose of the fp32 input k, a data movement); the rest is half
    expect(stats.fp32Nodes).toBe(4);
    const m = readModel(up).graph!.node!;
    expect(m.find((n) => n.name === `${scope}/MatMul_1`)!.input!.every((i) => !i.endsWith('/to_fp32'))).toBe(true);
  });

  it("the precision acceleration reads upcast_attention from the component's config.json", async () => {
    const model = join(dir, 'model');
    mkdirSync(join(model, 'unet'), { recursive: true });
    writeModel(join(model, 'unet', 'model.onnx'), attentionModel());
    writeFileSync(join(model, 'unet', 'config.json'), JSON.stringify({ upcast_attention: true }));
    const ctx = {
      variant: { precision: 'fp16' }, provider: 'cuda', modelDir: model, cacheDir: join(dir, 'cache'),
      graphs: { unet: join(model, 'unet', 'model.onnx') }, timings: {}, notes: {},
    } as unknown as PrepareContext;
    await precision.prepare!(ctx);
    expect(ctx.notes.precision).toBe('fp16 unet (I/O fp32; attention scores fp32 in unet: config upcast_attention)');
    // the fp32 probabilities are cast to half for the · v MatMul (a plain conversion has no Cast there)
    const pv = readModel(ctx.graphs.unet!).graph!.node!.find((n) => n.name === `${scope}/MatMul_1`)!;
    expect(pv.input![0]).toBe('probs/to_fp16');
    writeFileSync(join(model, 'unet', 'config.json'), JSON.stringify({ upcast_attention: false }));
    const plain = { ...ctx, graphs: { unet: join(model, 'unet', 'model.onnx') } };
    await precision.prepare!(plain);
    expect(readModel(plain.graphs.unet).graph!.node!.find((n) => n.name === `${scope}/MatMul_1`)!.input![0]).toBe('probs');
  });
});
