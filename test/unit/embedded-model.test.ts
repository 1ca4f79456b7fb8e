import { readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { mkdtempSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { Engine } from '../../engine/engine';
import { readPng } from '../../engine/image/png';
import { inspectModel } from '../../engine/model/model';

const MODEL = fileURLToPath(new URL('../../assets/models/emoji-sd', import.meta.url));
const engine = new Engine(mkdtempSync(join(tmpdir(), 'embedded-')));
afterAll(() => engine.release());

function size(dir: string): number {
  return readdirSync(dir, { withFileTypes: true }).reduce((s, e) => s + (e.isDirectory() ? size(join(dir, e.name)) : statSync(join(dir, e.name)).size), 0);
}

describe('the embedded emoji model folder', () => {
  it('has the diffusers ONNX layout, its LoRAs, licences, contact sheet and README, within 20 MB', () => {
    const info = inspectModel(MODEL);
    expect(info).toMatchObject({ latentChannels: 4, vaeScaleFactor: 8, defaultSize: 128, hasVaeEncoder: true });
    expect(info.scalingFactor).toBeCloseTo(0.6879, 3);
    const files = readdirSync(MODEL);
    for (const f of ['model_index.json', 'LICENSES.md', 'README.md', 'contact-sheet.png', 'tokenizer', 'scheduler', 'loras']) expect(files).toContain(f);
    expect(readdirSync(join(MODEL, 'loras')).sort()).toEqual(['lcm-lora.safetensors', 'openmoji-style.safetensors', 'pixel-art-style.safetensors']);
    expect(statSync(join(MODEL, 'contact-sheet.png')).size).toBeLessThanOrEqual(500 * 1024);
    expect(readPng(join(MODEL, 'contact-sheet.png')).width).toBeGreaterThan(0);
    expect(size(MODEL)).toBeLessThanOrEqual(20 * 1024 * 1024);
  });

  it('runs 128x128 by default, and every LoRA in it merges with no unmatched key', async () => {
    const params = { prompt: 'grinning face, twemoji style', seed: 1, steps: 2 };
    const plain = await engine.run({ model: MODEL, params, variant: {} });
    expect([plain.images[0]!.width, plain.images[0]!.height]).toEqual([128, 128]);
    for (const f of ['openmoji-style', 'pixel-art-style']) {
      const r = await engine.run({ model: MODEL, params, variant: { loras: [{ path: join(MODEL, 'loras', `${f}.safetensors`), weight: 1 }] } });
      expect(r.images[0]!.data).not.toEqual(plain.images[0]!.data);
    }
    const lcm = await engine.run({ model: MODEL, params, variant: { lcmLora: { path: join(MODEL, 'loras', 'lcm-lora.safetensors') } } });
    expect(lcm.result.timings.stepMs).toHaveLength(4);
  });
});
