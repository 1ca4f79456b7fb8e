import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { Engine } from '../../engine/engine';
import { writePng } from '../../engine/image/png';
import { toRgb8 } from '../../engine/image/rgb';
import { FIXTURE_MODEL, maxAbsDiff } from '../parity/reference';

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'step-in-graph-'));
const engine = new Engine(join(dir, 'cache'), 8);
afterAll(() => engine.release());
const png = (name: string, f: (x: number, y: number) => number) => {
  const path = join(dir, name);
  writePng(path, toRgb8({ width: 96, height: 64, data: Float32Array.from({ length: 96 * 64 * 3 }, (_, i) => f(Math.floor(i / 3) % 96, Math.floor(i / 288))) }));
  return path;
};
const init = png('init.png', (x, y) => ((x + y) % 16) / 16), mask = png('mask.png', (x) => (x < 48 ? 1 : 0)), edges = png('edges.png', (x, y) => (x === 30 || y === 20 ? 1 : 0));
const base = { prompt: 'a cat', negativePrompt: 'blurry', seed: 5, steps: 6, guidance: 7.5, width: 96, height: 64 };
const both = async (model: string, params: Record<string, unknown>, variant: Record<string, unknown> = {}, inputs: Record<string, { path: string }> = {}) => {
  const [off, on] = await Promise.all(['off', 'on'].map((stepInGraph) => engine.run({ model, params: { ...base, ...params }, variant: { provider: 'cpu', stepInGraph, ...variant }, inputs })));
  return { off: off!, on: on!, diff: maxAbsDiff(off!.images[0]!.data, on!.images[0]!.data) };
};

describe('the step in the UNet graph: the same image as the host step, in float32', () => {
  for (const [scheduler, variant] of [['ddim', {}], ['euler-a', { cfgTruncation: 0.5 }], ['dpmpp-2m', { deepcache: { interval: 2, branch: 0 }, cfgTruncation: 0.6 }], ['pndm', { deepcache: { interval: 3, branch: 0 } }]] as const) {
    it(`${scheduler} ${JSON.stringify(variant)}`, async () => {
      const { on, off, diff } = await both(FIXTURE_MODEL, { scheduler }, variant);
      expect(diff).toBeLessThan(5e-5);
      expect(diff).toBeGreaterThan(0); // float32 in the graph against the host's double sums: not bit-equal, so the graph did run
      expect(on.result.summary).toContain(`step in the graph: unet${'deepcache' in variant ? '+unet_shallow' : ''}`);
      expect(off.result.summary).not.toContain('step in the graph');
    });
  }

  it('img2img, and inpainting with an ordinary UNet (the blend after each step stays on the host)', async () => {
    expect((await both(FIXTURE_MODEL, { scheduler: 'ddim', strength: 0.6 }, {}, { initImage: { path: init } })).diff).toBeLessThan(5e-5);
    const inpaint = await both(FIXTURE_MODEL, { scheduler: 'euler' }, {}, { initImage: { path: init }, mask: { path: mask } });
    expect(inpaint.diff).toBeLessThan(5e-5);
    expect(inpaint.on.result.summary).toContain('step in the graph: unet');
  });

  it('left on the host, with the reason: a 9-channel inpainting UNet, a UNet with ControlNet residual inputs; auto is off on the CPU', async () => {
    const nine = await both(fixture('tiny-sd-inpaint'), { scheduler: 'ddim' }, {}, { initImage: { path: init }, mask: { path: mask } });
    expect(nine.diff).toBe(0);
    expect(nine.on.result.summary).toContain('step on the host: unet (its sample has 9 channels and its prediction 4');
    const cn = await both(fixture('tiny-sd-controlnet'), { scheduler: 'ddim', controlnet: { units: [{ scale: 1 }] } }, {}, { controlImage: { path: edges } });
    expect(cn.diff).toBe(0);
    expect(cn.on.result.summary).toContain('step on the host: unet (ControlNet residual inputs');
    const auto = await engine.run({ model: FIXTURE_MODEL, params: base, variant: { provider: 'cpu' } });
    expect(auto.result.summary).not.toContain('step in the graph');
  });
});
