import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { mergeInto } from '../../engine/accelerations/lora';
import { Engine } from '../../engine/engine';
import { parseLora } from '../../engine/lora/keys';
import { readSafetensors } from '../../engine/lora/safetensors';
import { mapSgmNames, sgmToDiffusers, unetLayout } from '../../engine/lora/sgm';
import { weightNodes } from '../../engine/onnx/graph';
import { readModel } from '../../engine/onnx/model-proto';
import { readFloats } from '../../engine/onnx/tensor-data';
import { values, writeSafetensors } from '../support/safetensors-writer';

/** kohya's SDXL LoRAs in SGM block names (input_blocks_…) against the same LoRA in diffusers names, on tiny-sdxl. */
const MODEL = fileURLToPath(new URL('../fixtures/tiny-sdxl', import.meta.url));
const KOHYA = fileURLToPath(new URL('../fixtures/loras/tiny-sdxl-lora-kohya.safetensors', import.meta.url));
const UNET = join(MODEL, 'unet', 'model.onnx');
const dir = mkdtempSync(join(tmpdir(), 'lora-sgm-'));

// tiny-sdxl (layers_per_block 1; levels DownBlock2D, CrossAttn, CrossAttn), written out by hand from SGM's block order
const TO_SGM: [string, string][] = [
  ['conv_in', 'input_blocks_0_0'], ['down_blocks_0_resnets_0_conv1', 'input_blocks_1_0_in_layers_2'],
  ['down_blocks_0_resnets_0_time_emb_proj', 'input_blocks_1_0_emb_layers_1'], ['down_blocks_0_downsamplers_0_conv', 'input_blocks_2_0_op'],
  ['down_blocks_1_resnets_0_conv_shortcut', 'input_blocks_3_0_skip_connection'], ['down_blocks_1_attentions_0_', 'input_blocks_3_1_'],
  ['down_blocks_1_downsamplers_0_conv', 'input_blocks_4_0_op'], ['down_blocks_2_resnets_0_conv2', 'input_blocks_5_0_out_layers_3'],
  ['down_blocks_2_attentions_0_', 'input_blocks_5_1_'], ['mid_block_resnets_0_conv1', 'middle_block_0_in_layers_2'],
  ['mid_block_attentions_0_', 'middle_block_1_'], ['mid_block_resnets_1_time_emb_proj', 'middle_block_2_emb_layers_1'],
  ['up_blocks_0_resnets_0_conv1', 'output_blocks_0_0_in_layers_2'], ['up_blocks_0_attentions_0_', 'output_blocks_0_1_'],
  ['up_blocks_0_attentions_1_', 'output_blocks_1_1_'], ['up_blocks_0_upsamplers_0_conv', 'output_blocks_1_2_conv'],
  ['up_blocks_1_attentions_0_', 'output_blocks_2_1_'], ['up_blocks_1_resnets_1_conv_shortcut', 'output_blocks_3_0_skip_connection'],
  ['up_blocks_1_attentions_1_', 'output_blocks_3_1_'], ['up_blocks_1_upsamplers_0_conv', 'output_blocks_3_2_conv'],
  ['up_blocks_2_resnets_0_conv1', 'output_blocks_4_0_in_layers_2'], ['up_blocks_2_resnets_1_conv2', 'output_blocks_5_0_out_layers_3'],
  ['conv_out', 'out_2'], ['time_embedding_linear_1', 'time_embed_0'], ['time_embedding_linear_2', 'time_embed_2'],
  ['add_embedding_linear_1', 'label_emb_0_0'], ['add_embedding_linear_2', 'label_emb_0_2'],
];
const toSgm = (key: string): string => {
  const hit = TO_SGM.find(([d]) => key.startsWith(`lora_unet_${d}${d.endsWith('_') ? '' : '.'}`));
  return hit ? key.replace(`lora_unet_${hit[0]}`, `lora_unet_${hit[1]}`) : key;
};

type Tensors = Record<string, { shape: number[]; data: Float32Array | number[] }>;
/** The committed kohya file (attention targets, te1/te2) plus rank-2 updates on the non-attention modules of the table. */
function diffusersNamed(): Tensors {
  const t: Tensors = {};
  for (const [k, v] of readSafetensors(KOHYA).tensors) t[k] = { shape: v.shape, data: v.data };
  const nodes = new Map([...weightNodes(readModel(UNET).graph!).values()].map((n) => [n.module.replace(/^m\./, '').replace(/\./g, '_'), n]));
  let seed = 5;
  for (const [d] of TO_SGM.filter(([d]) => !d.endsWith('_'))) {
    const n = nodes.get(d);
    if (!n) throw new Error(`tiny-sdxl has no ${d}`);
    const dims = n.tensor.dims!.map(Number), kernel = n.op === 'Conv' ? dims.slice(2) : [];
    const [out, inn] = n.op === 'Conv' ? [dims[0]!, dims[1]!] : n.transposed ? [dims[1]!, dims[0]!] : [dims[0]!, dims[1]!];
    const key = `lora_unet_${d}`, k = kernel.reduce((a, b) => a * b, 1);
    t[`${key}.lora_down.weight`] = { shape: [2, inn, ...kernel], data: values(2 * inn * k, seed++) };
    t[`${key}.lora_up.weight`] = { shape: [out, 2, ...kernel.map(() => 1)], data: values(out * 2, seed++) };
    t[`${key}.alpha`] = { shape: [], data: [1] };
  }
  return t;
}

const write = (name: string, t: Tensors): string => {
  const path = join(dir, name);
  writeSafetensors(path, t);
  return path;
};
const updatesOf = (path: string) => mapSgmNames(parseLora(path, readSafetensors(path).tensors), path, MODEL);

describe('kohya SDXL LoRAs in SGM block names', () => {
  const plain = diffusersNamed();
  const sgm = Object.fromEntries(Object.entries(plain).map(([k, v]) => [toSgm(k), v]));
  const plainPath = write('diffusers-names.safetensors', plain), sgmPath = write('sgm-names.safetensors', sgm);
  const engine = new Engine(join(dir, 'cache'));
  afterAll(() => engine.release());

  it('the SGM file really uses SGM names for every UNet key', () => {
    const unetKeys = Object.keys(sgm).filter((k) => k.startsWith('lora_unet_'));
    expect(unetKeys.length).toBeGreaterThan(60);
    expect(unetKeys.filter((k) => /lora_unet_(down_blocks|mid_block|up_blocks|conv_in|conv_out|time_embedding|add_embedding)/.test(k))).toEqual([]);
  });

  it('patches the same UNet weights, tensor for tensor, as the file in diffusers names', () => {
    const base = readModel(UNET);
    const ref = { path: 'x', weight: 0.8 };
    const a = mergeInto(base, UNET, [{ ref, updates: updatesOf(plainPath) }], 'unet');
    const b = mergeInto(base, UNET, [{ ref, updates: updatesOf(sgmPath) }], 'unet');
    const [na, nb, n0] = [a, b, base].map((m) => weightNodes(m.graph!));
    let changed = 0;
    for (const [module, node] of na) {
      const wa = readFloats(node.tensor, UNET), wb = readFloats(nb.get(module)!.tensor, UNET);
      expect(wb, module).toEqual(wa);
      if (wa.some((v, i) => v !== readFloats(n0.get(module)!.tensor, UNET)[i])) changed++;
    }
    expect(changed).toBe(updatesOf(plainPath).filter((u) => u.component === 'unet').length); // every UNet module of the file, none twice
  });

  it('gives the same image through the engine as the diffusers-named file', async () => {
    const params = { prompt: 'a photo of an astronaut riding a horse', seed: 2, steps: 2 };
    const run = (path: string) => engine.run({ model: MODEL, params, variant: { loras: [{ path, weight: 0.8 }] } });
    const [a, b] = [await run(plainPath), await run(sgmPath)];
    expect(b.images[0]!.data).toEqual(a.images[0]!.data);
  });

  it('refuses a name with no module in this UNet, naming it, and a file that mixes the two namings', async () => {
    const pair = (key: string, inn: number, out: number): Tensors => ({
      [`${key}.lora_down.weight`]: { shape: [1, inn], data: values(inn, 1) }, [`${key}.lora_up.weight`]: { shape: [out, 1], data: values(out, 2) },
    });
    const ok = pair('lora_unet_input_blocks_3_1_proj_in', 8, 8);
    for (const bad of ['lora_unet_output_blocks_5_1_conv', 'lora_unet_input_blocks_1_1_proj_in', 'lora_unet_input_blocks_7_0_in_layers_2', 'lora_unet_middle_block_3_proj_in']) {
      const path = write('bad.safetensors', { ...ok, ...pair(bad, 8, 8) });
      expect(() => updatesOf(path), bad).toThrow(new RegExp(`1 SGM \\(kohya SDXL\\) UNet names match no module of .*tiny-sdxl/unet/config.json.*: ${bad}$`));
    }
    const path = write('bad-engine.safetensors', { ...ok, ...pair('lora_unet_output_blocks_5_1_conv', 8, 8) });
    await expect(engine.run({ model: MODEL, params: { prompt: 'a', seed: 1, steps: 1 }, variant: { loras: [{ path, weight: 1 }] } })).rejects.toThrow(/lora_unet_output_blocks_5_1_conv/);
    const mixed = write('mixed.safetensors', { ...ok, ...pair('lora_unet_down_blocks_1_attentions_0_proj_out', 8, 8) });
    expect(() => updatesOf(mixed)).toThrow(/mixes SGM block names .* lora_unet_down_blocks_1_attentions_0_proj_out/);
  });

  it("maps SDXL base's own layout (layers_per_block 2) as kohya's sdxl_model_util does", () => {
    const sdxl = unetLayout({ layers_per_block: 2, down_block_types: ['DownBlock2D', 'CrossAttnDownBlock2D', 'CrossAttnDownBlock2D'], up_block_types: ['CrossAttnUpBlock2D', 'CrossAttnUpBlock2D', 'UpBlock2D'] }, 'sdxl');
    const cases: [string, string | undefined][] = [
      ['input_blocks_4_1_transformer_blocks_0_attn1_to_q', 'down_blocks_1_attentions_0_transformer_blocks_0_attn1_to_q'],
      ['input_blocks_8_1_transformer_blocks_9_ff_net_2', 'down_blocks_2_attentions_1_transformer_blocks_9_ff_net_2'],
      ['input_blocks_3_0_op', 'down_blocks_0_downsamplers_0_conv'], ['input_blocks_6_0_op', 'down_blocks_1_downsamplers_0_conv'],
      ['input_blocks_2_0_in_layers_2', 'down_blocks_0_resnets_1_conv1'], ['middle_block_1_proj_out', 'mid_block_attentions_0_proj_out'],
      ['middle_block_2_out_layers_3', 'mid_block_resnets_1_conv2'], ['output_blocks_2_2_conv', 'up_blocks_0_upsamplers_0_conv'],
      ['output_blocks_5_2_conv', 'up_blocks_1_upsamplers_0_conv'], ['output_blocks_4_1_proj_in', 'up_blocks_1_attentions_1_proj_in'],
      ['output_blocks_8_0_skip_connection', 'up_blocks_2_resnets_2_conv_shortcut'], ['output_blocks_8_1_conv', undefined],
      ['output_blocks_6_1_proj_in', undefined], ['input_blocks_9_0_in_layers_2', undefined], ['input_blocks_9_0_op', undefined],
    ];
    for (const [sgmName, want] of cases) expect(sgmToDiffusers(sgmName, sdxl), sgmName).toBe(want);
  });
});
