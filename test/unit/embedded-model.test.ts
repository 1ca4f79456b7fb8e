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
  it('has the diffusers ONNX layout, its LoRAs, licences, contact sheet and README, within 20 MB; its ControlNet beside it within 3 MB', () => {
    const info = inspectModel(MODEL);
    expect(info).toMatchObject({ latentChannels: 4, vaeScaleFactor: 8, defaultSize: 128, hasVaeEncoder: true });
    expect(info.scalingFactor).toBeCloseTo(0.6879, 3);
    const files = readdirSync(MODEL);
    for (const f of ['model_index.json', 'LICENSES.md', 'README.md', 'contact-sheet.png', 'tokenizer', 'scheduler', 'loras']) expect(files).toContain(f);
    // its ControlNet lives beside the folder (studio.json lists it), within its own budget
    const cn = join(MODEL, '..', 'emoji-sd-controlnet-canny');
    for (const f of ['model.onnx', 'config.json', 'README.md', 'samples.png']) expect(readdirSync(cn)).toContain(f);
    expect(inspectModel(MODEL).controlnetDirs).toEqual([cn]);
    expect(size(cn)).toBeLessThanOrEqual(3 * 1024 * 1024);
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

  it('draws what it is asked for (colour shares of three training concepts at guidance 3)', async () => {
    // Shares of strongly red / yellow / near-black pixels: coarse, but enough to tell the concepts apart.
    // The under-trained first version fails it (its soccer ball: 12% red, no black), as would a broken text path.
    const share = async (prompt: string) => {
      const { images } = await engine.run({ model: MODEL, params: { prompt, seed: 7, steps: 20, guidance: 3 }, variant: {} });
      const { data, width, height } = images[0]!;
      const n = width * height, out = { red: 0, yellow: 0, dark: 0 };
      for (let p = 0; p < n; p++) {
        const [r, g, b] = [data[p * 3]!, data[p * 3 + 1]!, data[p * 3 + 2]!];
        if (r > 0.6 && g < 0.35 && b < 0.35) out.red += 1 / n;
        if (r > 0.8 && g > 0.6 && b < 0.35) out.yellow += 1 / n;
        if (r < 0.25 && g < 0.25 && b < 0.25) out.dark += 1 / n;
      }
      return out;
    };
    const apple = await share('red apple, noto style');
    const ball = await share('soccer ball, twemoji style');
    const face = await share('grinning face, twemoji style');
    expect(apple.red).toBeGreaterThan(0.05);
    expect(ball.red).toBeLessThan(0.01);
    expect(ball.dark).toBeGreaterThan(0.03);
    expect(face.yellow).toBeGreaterThan(0.1);
    expect(apple.yellow).toBeLessThan(face.yellow / 2);
  });
});
