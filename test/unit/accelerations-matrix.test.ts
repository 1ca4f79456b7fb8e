import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RunResult } from '../../app/contract';
import { Variant } from '../../app/variant';
import { Engine } from '../../engine/engine';
import { weightNodes } from '../../engine/onnx/graph';
import { readModel } from '../../engine/onnx/model-proto';
import { FIXTURE_MODEL } from '../parity/reference';
import { pairwise } from '../support/pairwise';
import { values, writeSafetensors } from '../support/safetensors-writer';

const dir = mkdtempSync(join(tmpdir(), 'matrix-'));
const engine = new Engine(join(dir, 'cache'));
afterAll(() => engine.release());

/** A small kohya LoRA on the UNet's attn2.to_k (stands in for both a style LoRA and the LCM-LoRA here). */
function lora(path: string): string {
  const t: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const n of weightNodes(readModel(join(FIXTURE_MODEL, 'unet', 'model.onnx')).graph!).values()) {
    if (!n.module.endsWith('attn2.to_k')) continue;
    const [inn, out] = n.tensor.dims!.map(Number) as [number, number];
    const key = `lora_unet_${n.module.replace(/^m\./, '').replace(/\./g, '_')}`;
    t[`${key}.lora_down.weight`] = { shape: [2, inn], data: values(2 * inn, inn) };
    t[`${key}.lora_up.weight`] = { shape: [out, 2], data: values(2 * out, out) };
  }
  writeSafetensors(path, t);
  return path;
}

describe('every pair of acceleration options runs and validates', () => {
  const l = lora(join(dir, 'l.safetensors'));
  const domains = {
    // coreml exists only on macOS, so on Linux the fallback path always runs (webgpu may be real here: Mesa's llvmpipe)
    provider: [{ provider: 'cpu' }, { provider: 'coreml', allowFallback: true }],
    optLevel: ['disabled', 'basic', 'extended', 'all'],
    precision: ['fp32', 'fp16'],
    fusedAttention: [false, true],
    deepcache: [undefined, { interval: 3, branch: 0 }, { interval: 2, branch: 3, schedule: 'nonuniform' }],
    cfgTruncation: [1, 0.6],
    loras: [[], [{ path: l, weight: 0.7 }]],
    lcmLora: [undefined, { path: l }],
  } as const;
  const cases = pairwise(domains);

  it('the all-pairs cases cover every pair', () => {
    const keys = Object.keys(domains) as (keyof typeof domains)[];
    for (const [x, a] of keys.entries()) for (const b of keys.slice(x + 1)) {
      for (const va of domains[a]) for (const vb of domains[b]) expect(cases.some((c) => c[a] === va && c[b] === vb)).toBe(true);
    }
    expect(cases.length).toBeLessThan(20);
  });

  for (const [i, c] of cases.entries()) {
    const variant = { ...c.provider, optLevel: c.optLevel, precision: c.precision, fusedAttention: c.fusedAttention, cfgTruncation: c.cfgTruncation, loras: c.loras, ...(c.deepcache ? { deepcache: c.deepcache } : {}), ...(c.lcmLora ? { lcmLora: c.lcmLora } : {}) };
    it(`case ${i + 1}: ${JSON.stringify(variant).replace(new RegExp(dir, 'g'), '…')}`, async () => {
      expect(Variant.safeParse(variant).success).toBe(true);
      const { result, images } = await engine.run({ model: FIXTURE_MODEL, params: { prompt: 'a cat', seed: i, steps: 4, scheduler: 'ddim' }, variant });
      expect(RunResult.safeParse(result).success).toBe(true);
      expect(images[0]!.data.every(Number.isFinite)).toBe(true);
      expect(result.provider).toBe('cpu');
      if (c.lcmLora) expect(result.params).toMatchObject({ scheduler: 'lcm', steps: 4, guidance: 1 });
      if (c.deepcache) expect(result.fullSteps.length).toBeLessThan(result.timings.stepMs.length);
    });
  }
});
