import { mkdtempSync, writeFileSync } from 'node:fs';
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
import { values, writeSafetensors } from '../support/safetensors-writer';

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
