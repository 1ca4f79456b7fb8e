import { join } from 'node:path';
import { Float16Array } from '@petamoriken/float16';
import ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { loadModel, type LoadedModel } from '../../engine/model/model';
import { asInput, toFloat32, toHalf } from '../../engine/model/onnx-session';
import { convertToHalf } from '../../engine/onnx/fp16';
import { readModel } from '../../engine/onnx/model-proto';
import { generate } from '../../engine/pipeline/generate';
import { FIXTURE_MODEL } from '../parity/reference';
import { halfIoUnetFolder } from '../support/half-io';
import { modelCopy } from '../support/model-variants';
import { psnr } from '../support/psnr';

const libHalf = (x: Float32Array) => new Uint16Array(Float16Array.from(x).buffer);
const libFloat = (bits: Uint16Array) => Float32Array.from(new Float16Array(bits.buffer, bits.byteOffset, bits.length));
const HALF = { name: 'x', type: 'float16', shape: [] };

describe('fp16 feeds and outputs', () => {
  it('float32 → fp16 bits equals Float16Array bit for bit (round to even, subnormals, overflow, inf, NaN)', () => {
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const x = Float32Array.from({ length: 200_000 }, (_, i) => (rand() - 0.5) * [1e-7, 6e-5, 1, 100, 7e4, 2e5][i % 6]!);
    x.set([0, -0, Infinity, -Infinity, 65504, 65519.99, 65520, -65520, 2 ** -24, 2 ** -25, 2 ** -25 * 1.0001, 2 ** -26, 2 ** -14, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 1e-45]);
    expect(Array.from(toHalf(x))).toEqual(Array.from(libHalf(x)));
    const nan = toHalf(Float32Array.of(NaN))[0]!;
    expect(Number.isNaN(libFloat(Uint16Array.of(nan))[0])).toBe(true);
  });

  it('fp16 outputs read as their exact values, every bit pattern', () => {
    const bits = Uint16Array.from({ length: 65536 }, (_, i) => i);
    const mine = toFloat32(new ort.Tensor('float16', bits, [65536])), lib = libFloat(bits);
    for (let i = 0; i < 65536; i++) if (!Object.is(mine[i], lib[i]) && !(Number.isNaN(mine[i]) && Number.isNaN(lib[i]))) throw new Error(`bits ${i.toString(16)}: ${mine[i]} vs ${lib[i]}`);
  });

  it('an fp16 output fed back is its own bits; a constant feed is converted once; other feeds each call', () => {
    const out = new ort.Tensor('float16', libHalf(Float32Array.of(0.1, -2, 3.5)), [3]);
    expect(asInput(HALF, toFloat32(out), [3]).data).toBe(out.data);
    const ehs = Float32Array.of(0.25, 0.5, 0.3);
    const a = asInput(HALF, ehs, [3], true), b = asInput(HALF, ehs, [3], true);
    expect(b.data).toBe(a.data);
    expect(Array.from(a.data as Uint16Array)).toEqual(Array.from(libHalf(ehs)));
    const sample = Float32Array.of(1, 2, 3);
    expect(asInput(HALF, sample, [3]).data).not.toBe(asInput(HALF, sample, [3]).data);
  });
});

describe('a UNet with fp16 inputs and outputs', () => {
  const opened: LoadedModel[] = [];
  afterAll(() => Promise.all(opened.map((m) => m.release())));
  const open = async (dir: string) => {
    const m = await loadModel(dir);
    opened.push(m);
    return m;
  };
  const params = { prompt: 'a photo of an astronaut', negativePrompt: 'blurry', seed: 4, steps: 5, width: 96, height: 64, scheduler: 'ddim' as const };

  it('gives the image of the same fp16 UNet with fp32 I/O within fp16 noise', async () => {
    const halfIo = await open(halfIoUnetFolder(FIXTURE_MODEL));
    const fp32Io = await open(modelCopy(FIXTURE_MODEL, { graphs: { unet: (m) => Object.assign(m, halfOf(m)) } }));
    expect(halfIo.sessions.unet!.inputMetadata.map((i) => (i as { type?: string }).type)).toEqual(['float16', 'float16', 'float16']);
    const a = await generate(halfIo, params), b = await generate(fp32Io, params);
    // not bit-equal: with fp32 I/O the converter keeps a few boundary ops (time embedding input) in fp32
    expect(psnr(a.images[0]!.data, b.images[0]!.data)).toBeGreaterThan(50); // measured 58.7 dB
  });

  it('micro-benchmark: conversion ms per step, Float16Array (before) vs now, tiny UNet and SD1.5 sizes', async () => {
    const unet = (await open(halfIoUnetFolder(FIXTURE_MODEL))).sessions.unet!;
    const sizes = { tiny: { sample: [2, 4, 8, 12], ehs: [2, 77, 32] }, sd15: { sample: [2, 4, 64, 64], ehs: [2, 77, 768] } };
    for (const [label, s] of Object.entries(sizes)) {
      const n = (d: number[]) => d.reduce((p, q) => p * q, 1);
      const sample = Float32Array.from({ length: n(s.sample) }, (_, i) => Math.sin(i)), ehs = Float32Array.from({ length: n(s.ehs) }, (_, i) => Math.cos(i));
      const outBits = libHalf(sample);
      const per = (f: () => void, k = 20) => { f(); const t0 = performance.now(); for (let i = 0; i < k; i++) f(); return (performance.now() - t0) / k; };
      const before = per(() => { libHalf(sample); libHalf(ehs); libFloat(outBits); });
      const out = new ort.Tensor('float16', outBits, s.sample);
      const now = per(() => { asInput(HALF, sample, s.sample); asInput(HALF, ehs, s.ehs, true); toFloat32(out); });
      let run = 0;
      if (label === 'tiny') {
        const feeds = { sample: asInput(HALF, sample, s.sample), timestep: asInput(HALF, Float32Array.of(500), [1]), encoder_hidden_states: asInput(HALF, ehs, s.ehs) };
        await unet.run(feeds);
        const t0 = performance.now();
        for (let i = 0; i < 10; i++) await unet.run(feeds);
        run = (performance.now() - t0) / 10;
      }
      console.log(`fp16 I/O conversion per step (${label}: sample ${s.sample.join('x')}, encoder_hidden_states ${s.ehs.join('x')}): before ${before.toFixed(3)} ms, now ${now.toFixed(3)} ms${run ? `; session.run ${run.toFixed(2)} ms` : ''}`);
      expect(now).toBeGreaterThan(0);
    }
  });
});

/** The fixture UNet converted by the engine's own converter (fp16 inside, fp32 I/O). */
function halfOf(m: ReturnType<typeof readModel>): ReturnType<typeof readModel> {
  const src = join(FIXTURE_MODEL, 'unet', 'model.onnx'), dst = join(modelCopy(FIXTURE_MODEL), 'unet-half.onnx');
  convertToHalf(m, src, dst);
  return readModel(dst);
}

describe('an fp16 output fed back as it came (DeepCache feature)', () => {
  it('goes to the next graph with no host conversion; read, it is converted once', async () => {
    const { encodeModel } = await import('../../engine/onnx/model-proto');
    const { Graph, hostConversions } = await import('../../engine/pipeline/session-runner');
    const vi = (name: string) => ({ name, type: { tensorType: { elemType: 10, shape: { dim: [{ dimValue: 4 }] } } } });
    const bytes = encodeModel({ irVersion: 8, opsetImport: [{ domain: '', version: 17 }], graph: { name: 'h', node: [{ opType: 'Identity', input: ['x'], output: ['y'], name: 'id' }], input: [vi('x')], output: [vi('y')] } });
    const s = await ort.InferenceSession.create(bytes);
    const g = new Graph(s as never, 'identity.onnx', ['x']);
    const x = Float32Array.of(1, -2.5, 65504, 1 / 3);
    const c0 = hostConversions();
    const a = await g.run({ x: { data: x, dims: [4] } });
    expect(hostConversions() - c0).toBe(1); // the float32 feed made fp16
    expect(a.raw?.type).toBe('float16');
    const b = await g.run({ x: a });
    expect(hostConversions() - c0).toBe(1); // a's fp16 tensor went in as it was, b not read yet
    expect(Array.from(b.data)).toEqual([1, -2.5, 65504, toFloat32(new ort.Tensor('float16', toHalf(Float32Array.of(1 / 3)), [1]))[0]]);
    expect(hostConversions() - c0).toBe(2); // reading b converted it, once
    void b.data;
    expect(hostConversions() - c0).toBe(2);
    b.data = Float32Array.of(0, 0, 0, 0); // new values: fed as values, not as the old tensor
    const c = await g.run({ x: b });
    expect(Array.from(c.data)).toEqual([0, 0, 0, 0]);
    await s.release();
  });
});
