import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { mergeInto } from '../../engine/accelerations/lora';
import { Engine } from '../../engine/engine';
import { psnr } from '../support/psnr';
import { parseLora } from '../../engine/lora/keys';
import { readSafetensors } from '../../engine/lora/safetensors';
import { weightNodes } from '../../engine/onnx/graph';
import { readModel } from '../../engine/onnx/model-proto';
import { readFloats } from '../../engine/onnx/tensor-data';
import { FIXTURE_MODEL } from '../parity/reference';
import { values, writeRawSafetensors, writeSafetensors } from '../support/safetensors-writer';

const dir = mkdtempSync(join(tmpdir(), 'lora-'));
const engine = new Engine(join(dir, 'cache'));
afterAll(() => engine.release());
const UNET = join(FIXTURE_MODEL, 'unet', 'model.onnx');
const params = { prompt: 'a photo of an astronaut', seed: 3, steps: 4, width: 96, height: 64, scheduler: 'ddim' };

/**
 * A LoRA on every attn1.to_q of the UNet (plus, for kohya, one 3x3 conv and the text encoder's
 * q_proj), with kohya (`lora_unet_…`) or diffusers/PEFT (`unet.….lora_A.weight`) keys.
 */
function makeLora(path: string, format: 'kohya' | 'peft', rank = 2, alpha = 1): void {
  const t: Record<string, { shape: number[]; data: Float32Array | number[] }> = {};
  const unet = [...weightNodes(readModel(UNET).graph!).values()];
  const pick = (m: string) => m.endsWith('attn1.to_q') || (format === 'kohya' && m.endsWith('down_blocks.0.resnets.0.conv1'));
  for (const n of unet.filter((x) => pick(x.module))) {
    const mod = n.module.replace(/^m\./, '');
    let seed = [...mod].reduce((h, ch) => Math.imul(h, 31) + ch.charCodeAt(0), 7); // per module: formats get the same numbers
    const dims = n.tensor.dims!.map(Number);
    const [out, inn, k] = n.op === 'Conv' ? [dims[0]!, dims[1]!, dims.slice(2)] : [dims[1]!, dims[0]!, []];
    const down = { shape: [rank, inn, ...k], data: values(rank * inn * k.reduce((a, b) => a * b, 1), seed++) };
    const up = { shape: [out, rank, ...(k.length ? [1, 1] : [])], data: values(out * rank, seed++) };
    if (format === 'kohya') {
      const key = `lora_unet_${mod.replace(/\./g, '_')}`;
      Object.assign(t, { [`${key}.lora_down.weight`]: down, [`${key}.lora_up.weight`]: up, [`${key}.alpha`]: { shape: [], data: [alpha] } });
    } else {
      Object.assign(t, { [`unet.${mod}.lora_A.weight`]: down, [`unet.${mod}.lora_B.weight`]: up });
    }
  }
  if (format === 'kohya') {
    t['lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight'] = { shape: [rank, 32], data: values(rank * 32, 99) };
    t['lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_up.weight'] = { shape: [32, rank], data: values(32 * rank, 98) };
  }
  writeSafetensors(path, t);
}

describe('LoRA', () => {
  const kohya = join(dir, 'k.safetensors');
  makeLora(kohya, 'kohya');

  it('merges W += w·(alpha/rank)·up@down into the right weights, transposed MatMul and conv kernels included', () => {
    const updates = parseLora(kohya, readSafetensors(kohya).tensors);
    const base = readModel(UNET);
    const merged = mergeInto(base, UNET, [{ ref: { path: kohya, weight: 0.8 }, updates }], 'unet');
    const before = weightNodes(base.graph!), after = weightNodes(merged.graph!);
    for (const mod of ['m.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q', 'm.down_blocks.0.resnets.0.conv1']) {
      const u = updates.find((x) => x.module === mod.slice(2).replace(/\./g, '_'))!;
      const b = readFloats(before.get(mod)!.tensor, UNET), a = readFloats(after.get(mod)!.tensor, UNET);
      const node = before.get(mod)!;
      const dims = node.tensor.dims!.map(Number);
      const rank = u.down.shape[0]!;
      const [out, inn] = node.op === 'Conv' ? [dims[0]!, dims.slice(1).reduce((x, y) => x * y, 1)] : [dims[1]!, dims[0]!];
      for (const [o, i] of [[0, 0], [out - 1, inn - 1], [3, 5]] as const) {
        let d = 0;
        for (let r = 0; r < rank; r++) d += u.up.data[o * rank + r]! * u.down.data[r * inn + i]!;
        const at = node.op === 'Conv' ? o * inn + i : i * out + o;
        expect(a[at]! - b[at]!).toBeCloseTo(0.8 * (1 / rank) * d, 5);
      }
    }
  });

  it('changes the image; weight 0 leaves it exactly as it was; load and apply times are reported', async () => {
    const plain = await engine.run({ model: FIXTURE_MODEL, params, variant: {} });
    const zero = await engine.run({ model: FIXTURE_MODEL, params, variant: { loras: [{ path: kohya, weight: 0 }] } });
    const one = await engine.run({ model: FIXTURE_MODEL, params, variant: { loras: [{ path: kohya, weight: 1 }] } });
    expect(zero.images[0]!.data).toEqual(plain.images[0]!.data);
    expect(psnr(one.images[0]!.data, plain.images[0]!.data)).toBeLessThan(60);
    expect(Object.keys(one.result.prepareSteps)).toEqual(expect.arrayContaining(['lora.loadMs', 'lora.applyMs', 'sessionsMs']));
  });

  it('stacks LoRAs, and PEFT keys merge like kohya keys', async () => {
    const peft = join(dir, 'p.safetensors');
    makeLora(peft, 'peft');
    // the same numbers under PEFT keys (alpha = rank) merge exactly like kohya keys with alpha = rank
    const kohyaSame = join(dir, 'k2.safetensors');
    makeLora(kohyaSame, 'kohya', 2, 2);
    const a = await engine.run({ model: FIXTURE_MODEL, params, variant: { loras: [{ path: peft, weight: 1 }] } });
    const b = mergeInto(readModel(UNET), UNET, [{ ref: { path: kohyaSame, weight: 1 }, updates: parseLora(kohyaSame, readSafetensors(kohyaSame).tensors) }], 'unet');
    const c = mergeInto(readModel(UNET), UNET, [{ ref: { path: peft, weight: 1 }, updates: parseLora(peft, readSafetensors(peft).tensors) }], 'unet');
    const q = 'm.up_blocks.2.attentions.2.transformer_blocks.0.attn1.to_q';
    expect(readFloats(weightNodes(c.graph!).get(q)!.tensor, UNET)).toEqual(readFloats(weightNodes(b.graph!).get(q)!.tensor, UNET));
    expect(a.images[0]!.data.length).toBeGreaterThan(0);
    const r = await engine.run({ model: FIXTURE_MODEL, params, variant: { loras: [{ path: kohya, weight: 0.5 }, { path: peft, weight: 0.5 }] } });
    expect(r.result.summary).toContain('LoRA k.safetensors@0.5 + p.safetensors@0.5');
  });

  it('refuses unknown keys, other architectures, bad files — listing what did not match', async () => {
    const bad = join(dir, 'unknown.safetensors');
    writeSafetensors(bad, { 'model.diffusion_model.input_blocks.1.weight': { shape: [2], data: [1, 2] } });
    await expect(engine.run({ model: FIXTURE_MODEL, params, variant: { loras: [{ path: bad, weight: 1 }] } })).rejects.toThrow(
      /1 keys are not LoRA weights of a known format \(kohya or diffusers\/PEFT\): model\.diffusion_model\.input_blocks\.1\.weight/,
    );
    const other = join(dir, 'other.safetensors');
    writeSafetensors(other, {
      'lora_unet_down_blocks_3_attentions_0_proj_in.lora_down.weight': { shape: [2, 8], data: values(16, 1) },
      'lora_unet_down_blocks_3_attentions_0_proj_in.lora_up.weight': { shape: [8, 2], data: values(16, 2) },
    });
    await expect(engine.run({ model: FIXTURE_MODEL, params, variant: { loras: [{ path: other, weight: 1 }] } })).rejects.toThrow(
      /1 of 1 unet modules have no weight in .*unet\/model\.onnx: down_blocks_3_attentions_0_proj_in \(a LoRA for another architecture\?\)/,
    );
    const shape = join(dir, 'shape.safetensors');
    writeSafetensors(shape, {
      'lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight': { shape: [2, 8], data: values(16, 1) },
      'lora_unet_down_blocks_0_attentions_0_proj_in.lora_up.weight': { shape: [8, 2], data: values(16, 2) },
    });
    await expect(engine.run({ model: FIXTURE_MODEL, params, variant: { loras: [{ path: shape, weight: 1 }] } })).rejects.toThrow(/this LoRA is for another architecture/);
    const trunc = join(dir, 'trunc.safetensors');
    writeFileSync(trunc, Buffer.from([255, 255, 255, 255, 0, 0, 0, 0, 1, 2]));
    await expect(engine.run({ model: FIXTURE_MODEL, params, variant: { loras: [{ path: trunc, weight: 1 }] } })).rejects.toThrow(/header length \d+ is beyond the file/);
    await expect(engine.run({ model: FIXTURE_MODEL, params, variant: { loras: [{ path: join(dir, 'none.safetensors'), weight: 1 }] } })).rejects.toThrow(/none\.safetensors: LoRA file not found/);
  });
});

describe('LoRA files from a careless or hostile source: refused, naming the file and the tensor', () => {
  const f = (name: string) => join(dir, name);
  const f32 = (...v: number[]) => new Uint8Array(Float32Array.from(v).buffer);
  const entry = (begin: number, end: number, shape = [(end - begin) / 4]) => ({ dtype: 'F32', shape, data_offsets: [begin, end] });
  const KEY = 'lora_unet_x.lora_down.weight';
  const cases: [string, string, (path: string) => void, RegExp][] = [
    ['a NaN weight', 'nan', (p) => writeSafetensors(p, { [KEY]: { shape: [3], data: [1, NaN, 2] } }), /nan\.safetensors: tensor "lora_unet_x\.lora_down\.weight" holds NaN at index 1; LoRA weights must be finite/],
    ['an infinite alpha', 'inf', (p) => writeSafetensors(p, { 'lora_unet_x.alpha': { shape: [], data: [Infinity] } }), /inf\.safetensors: tensor "lora_unet_x\.alpha" holds Infinity at index 0/],
    ['two entries sharing bytes', 'overlap', (p) => writeRawSafetensors(p, { a: entry(0, 8), b: entry(4, 12) }, f32(1, 2, 3)), /overlap\.safetensors: tensors "a" and "b" share bytes 4\.\.8/],
    ['the same bytes under two names', 'alias', (p) => writeRawSafetensors(p, { a: entry(0, 8), b: entry(0, 8) }, f32(1, 2)), /alias\.safetensors: tensors "[ab]" and "[ab]" share bytes 0\.\.8/],
    ['a null header', 'null', (p) => writeRawSafetensors(p, null), /null\.safetensors: the safetensors header is null, not an object of tensors/],
    ['an array header', 'array', (p) => writeRawSafetensors(p, [1, 2]), /array\.safetensors: the safetensors header is an array/],
    ['a number header', 'number', (p) => writeRawSafetensors(p, 7), /number\.safetensors: the safetensors header is a number/],
    ['an entry without data_offsets', 'nooff', (p) => writeRawSafetensors(p, { [KEY]: { dtype: 'F32', shape: [1] } }, f32(1)), /nooff\.safetensors: tensor "lora_unet_x\.lora_down\.weight" has a malformed entry \(data_offsets: /],
    ['an entry that is null', 'nullentry', (p) => writeRawSafetensors(p, { [KEY]: null }), /nullentry\.safetensors: tensor "lora_unet_x\.lora_down\.weight" has a malformed entry/],
    ['offsets outside the file', 'outside', (p) => writeRawSafetensors(p, { [KEY]: entry(0, 4000) }, f32(1)), /outside\.safetensors: tensor "lora_unet_x\.lora_down\.weight" lies outside the file \(bytes 0\.\.4000 of 4\)/],
    ['reversed offsets', 'reversed', (p) => writeRawSafetensors(p, { [KEY]: { dtype: 'F32', shape: [0], data_offsets: [4, 0] } }, f32(1)), /reversed\.safetensors: tensor "lora_unet_x\.lora_down\.weight" lies outside the file/],
    ['a shape that does not match the bytes', 'shape3', (p) => writeRawSafetensors(p, { [KEY]: entry(0, 8, [3]) }, f32(1, 2)), /shape3\.safetensors: tensor "lora_unet_x\.lora_down\.weight" is 8 bytes but F32\[3\] needs 12/],
    ['a dtype LoRAs do not use', 'i32', (p) => writeRawSafetensors(p, { [KEY]: { dtype: 'I32', shape: [1], data_offsets: [0, 4] } }, f32(1)), /i32\.safetensors: tensor "lora_unet_x\.lora_down\.weight" has dtype I32; LoRAs must be F32, F16, BF16, F64/],
    ['a negative dimension', 'negdim', (p) => writeRawSafetensors(p, { [KEY]: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, f32(1)), /negdim\.safetensors: tensor "lora_unet_x\.lora_down\.weight" has a malformed entry \(shape\.0: /],
    ['metadata that is not strings', 'meta', (p) => writeRawSafetensors(p, { __metadata__: { rank: 4 }, [KEY]: entry(0, 4) }, f32(1)), /meta\.safetensors: __metadata__ is not a map of strings \(rank: /],
    ['a header that is not JSON', 'text', (p) => writeRawSafetensors(p, '{"a": '), /text\.safetensors: the safetensors header is not JSON/],
    // a sparse 300 MB file: the 200 MB header length is refused before anything is allocated
    ['a header over the bound', 'huge', (p) => { writeRawSafetensors(p, {}, new Uint8Array(), 200 * 1024 * 1024); truncateSync(p, 300 * 1024 * 1024); }, /huge\.safetensors: header length 209715200 is beyond the file or the 104857600-byte bound/],
    ['a file shorter than the length prefix', 'short', (p) => writeFileSync(p, Buffer.from([1, 2, 3])), /short\.safetensors: too short for a safetensors file \(3 bytes\)/],
    ['down and up of different ranks', 'ranks', (p) => writeSafetensors(p, { [KEY]: { shape: [2, 4], data: values(8, 1) }, 'lora_unet_x.lora_up.weight': { shape: [4, 3], data: values(12, 2) } }), /ranks\.safetensors: lora_unet_x has down \[2,4\] and up \[4,3\]; a LoRA pair is down \[rank, in, …\] and up \[out, rank, …\] with one rank ≥ 1/],
    ['a rank-0 pair', 'rank0', (p) => writeSafetensors(p, { [KEY]: { shape: [0, 4], data: [] }, 'lora_unet_x.lora_up.weight': { shape: [4, 0], data: [] } }), /rank0\.safetensors: lora_unet_x has down \[0,4\] and up \[4,0\]/],
    ['a one-dimensional down', 'flat', (p) => writeSafetensors(p, { [KEY]: { shape: [8], data: values(8, 1) }, 'lora_unet_x.lora_up.weight': { shape: [4, 8], data: values(32, 2) } }), /flat\.safetensors: lora_unet_x has down \[8\] and up \[4,8\]/],
    ['an alpha of several values', 'alpha2', (p) => writeSafetensors(p, { 'lora_unet_x.alpha': { shape: [2], data: [1, 2] } }), /alpha2\.safetensors: lora_unet_x\.alpha holds 2 values; an alpha is one number/],
  ];
  for (const [what, file, make, message] of cases) {
    it(what, () => {
      const path = f(`${file}.safetensors`);
      make(path);
      expect(() => parseLora(path, readSafetensors(path).tensors)).toThrow(message);
    });
  }

  it('a directory or a named pipe is refused by kind, at once (a pipe never blocks the reader)', () => {
    mkdirSync(f('folder.safetensors'));
    expect(() => readSafetensors(f('folder.safetensors'))).toThrow(/folder\.safetensors: is a directory, not a regular file \(expected a safetensors file\)/);
    execFileSync('mkfifo', [f('pipe.safetensors')]);
    expect(() => readSafetensors(f('pipe.safetensors'))).toThrow(/pipe\.safetensors: is a named pipe \(FIFO\), not a regular file/);
  });

  it('the engine reports a LoRA directory by name, not as a bare EISDIR', async () => {
    mkdirSync(f('dir-lora'));
    await expect(engine.run({ model: FIXTURE_MODEL, params, variant: { loras: [{ path: f('dir-lora'), weight: 1 }] } })).rejects.toThrow(/dir-lora: is a directory, not a regular file/);
  });

  it('a well-formed file still reads: F16, BF16 and F64 values widen exactly, metadata comes back', () => {
    const half = Uint16Array.of(0x3c00, 0xc000), bf = Uint16Array.of(0x3f80, 0x4040), dbl = Float64Array.of(0.5, -3);
    const bytes = Buffer.concat([Buffer.from(half.buffer), Buffer.from(bf.buffer), Buffer.from(dbl.buffer)]);
    writeRawSafetensors(f('ok.safetensors'), {
      __metadata__: { ss_network_dim: '2' },
      h: { dtype: 'F16', shape: [2], data_offsets: [0, 4] }, b: { dtype: 'BF16', shape: [2], data_offsets: [4, 8] }, d: { dtype: 'F64', shape: [1, 2], data_offsets: [8, 24] },
    }, bytes);
    const { tensors, metadata } = readSafetensors(f('ok.safetensors'));
    expect([...tensors.get('h')!.data]).toEqual([1, -2]);
    expect([...tensors.get('b')!.data]).toEqual([1, 3]);
    expect([...tensors.get('d')!.data]).toEqual([0.5, -3]);
    expect(tensors.get('d')!.shape).toEqual([1, 2]);
    expect(metadata).toEqual({ ss_network_dim: '2' });
  });
});
