import { cpSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { canny } from '../../app/canny';
import { ControlNetUnit } from '../../app/controlnet';
import { Engine } from '../../engine/engine';
import { readPng, writePng } from '../../engine/image/png';
import { toRgb8, type RgbImage } from '../../engine/image/rgb';
import { readModel } from '../../engine/onnx/model-proto';
import ort from 'onnxruntime-node';
import { openSession } from '../../engine/model/onnx-session';
import { residualPoints, residualUnet } from '../../engine/onnx/residual-inputs';
import { f32, readFixture } from '../parity/reference';

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));
const PLAIN = fixture('tiny-sd-controlnet-plain');
const CN_DIR = join(fixture('tiny-sd-controlnet'), 'controlnet');
const ref = readFixture<{ skipTensors: Record<string, { input: string; tensor: string; upBlockConsumers: string[] }[]>; controlImages: Record<string, string> }>('tiny-sd-controlnet-reference.json.gz');

describe('residual surgery: where the ControlNet residuals go', () => {
  for (const graph of ['tiny-sd-controlnet-plain/unet/model.onnx', 'tiny-sd/unet/model.onnx']) {
    it(`${graph}: the points diffusers adds to (make_controlnet_refs.py skipTensors)`, () => {
      const got = residualPoints(readModel(fixture(graph)).graph!, graph);
      const want = ref.skipTensors[graph]!;
      expect(got.map((p) => p.input)).toEqual(want.map((w) => w.input));
      expect(got.map((p) => p.tensor)).toEqual(want.map((w) => w.tensor));
      // down skips: only the up-block Concat reads the added tensor; the mid output: every reader
      expect(got.slice(0, -1).map((p) => p.readers)).toEqual(want.slice(0, -1).map((w) => w.upBlockConsumers));
      expect(got.at(-1)!.readers).toContain(want.at(-1)!.upBlockConsumers[0]);
    });
  }
});

describe('residual surgery on the embedded model (fp16-stored weights)', () => {
  const unet = fileURLToPath(new URL('../../assets/models/emoji-sd/unet/model.onnx', import.meta.url));
  it.runIf(existsSync(unet))('zero residuals give the plain UNet\'s output exactly; a residual changes it', async () => {
    const path = residualUnet(unet, mkdtempSync(join(tmpdir(), 'cn-emoji-')));
    const fast = { graphOptimizationLevel: 'disabled' as const };
    const [plain, cut] = await Promise.all([openSession(unet, fast), openSession(path, fast)]);
    const feeds: Record<string, ort.Tensor> = {
      sample: new ort.Tensor('float32', Float32Array.from({ length: 2 * 4 * 16 * 16 }, (_, i) => Math.sin(i)), [2, 4, 16, 16]),
      timestep: new ort.Tensor('float32', Float32Array.of(500), [1]),
      encoder_hidden_states: new ort.Tensor('float32', Float32Array.from({ length: 2 * 77 * 128 }, (_, i) => Math.cos(i) * 0.5), [2, 77, 128]),
    };
    const shapes = [[32, 16], [32, 16], [32, 16], [32, 8], [64, 8], [64, 8], [64, 4], [128, 4], [128, 4]];
    const zeros = (c: number, s: number) => new ort.Tensor('float32', new Float32Array(2 * c * s * s), [2, c, s, s]);
    const res: Record<string, ort.Tensor> = Object.fromEntries([...shapes.map(([c, s], i) => [`down_block_additional_residual_${i}`, zeros(c!, s!)]), ['mid_block_additional_residual', zeros(128, 4)]]);
    const a = (await plain.run(feeds)).out_sample!.data as Float32Array;
    const b = (await cut.run({ ...feeds, ...res })).out_sample!.data as Float32Array;
    expect(b).toEqual(a);
    (res.mid_block_additional_residual!.data as Float32Array).fill(0.5);
    const c = (await cut.run({ ...feeds, ...res })).out_sample!.data as Float32Array;
    expect(c).not.toEqual(a);
    await Promise.all([plain.release(), cut.release()]);
  });
});

describe('canny (app/canny.ts)', () => {
  const square = (): Uint8Array => {
    const d = new Uint8Array(32 * 32 * 3);
    for (let y = 8; y < 24; y++) for (let x = 8; x < 24; x++) d.fill(255, (y * 32 + x) * 3, (y * 32 + x) * 3 + 3);
    return d;
  };
  it('a white square on black gives its outline, nothing inside or outside', () => {
    const e = canny(square(), 32, 32, 3, 100, 200);
    const at = (y: number, x: number) => e[y * 32 + x];
    expect(at(16, 16)).toBe(0);
    expect(at(2, 2)).toBe(0);
    const ring = [...e].filter(Boolean).length;
    expect(ring).toBeGreaterThan(40);
    expect(ring).toBeLessThan(140);
    for (let y = 10; y < 22; y++) expect(at(y, 7) || at(y, 8)).toBe(1); // left side, one of the two columns at the step
  });
  it('thresholds matter: above every gradient there is no edge; a flat image has none', () => {
    expect([...canny(square(), 32, 32, 3, 1400, 1450)].some(Boolean)).toBe(false);
    expect([...canny(new Uint8Array(16 * 16 * 4).fill(90), 16, 16, 4, 0, 0)].some(Boolean)).toBe(false);
  });
  it('bad thresholds and sizes are refused', () => {
    expect(() => canny(square(), 32, 32, 3, 200, 100)).toThrow('need 0 <= low <= high');
    expect(() => canny(square(), 31, 32, 3, 100, 200)).toThrow('canny: 3072 values for 31x32x3');
    expect(ControlNetUnit.safeParse({ low: 300, high: 200 }).error?.issues[0]?.message).toBe('canny low threshold must be <= the high one');
  });
  const check = fileURLToPath(new URL('../../assets/models/emoji-sd-controlnet-canny/canny-check', import.meta.url));
  it.runIf(existsSync(check))('the same edges as the emoji ControlNet training computed (training/emoji_train/canny.py)', () => {
    const img = readPng(join(check, 'image.png')), want = readPng(join(check, 'edges.png'));
    const { low, high } = JSON.parse(readFileSync(join(check, 'params.json'), 'utf8')) as { low: number; high: number };
    const got = canny(toRgb8(img).data, img.width, img.height, 3, low, high);
    const diff = [...got].filter((v, p) => v !== Math.round(want.data[p * 3]!)).length;
    expect(diff).toBe(0);
  });
});

describe('ControlNet runs through the engine (plain UNet: surgery; bad inputs refused before any step)', () => {
  const engine = new Engine(mkdtempSync(join(tmpdir(), 'cn-cache-')));
  afterAll(() => engine.release());
  const dir = mkdtempSync(join(tmpdir(), 'cn-in-'));
  const png = (name: string, img: RgbImage) => (writePng(join(dir, name), toRgb8(img)), { path: join(dir, name) });
  const edges = png('edges.png', { width: 96, height: 64, data: f32(ref.controlImages.edges!) });
  const small = png('small.png', { width: 48, height: 32, data: new Float32Array(48 * 32 * 3).fill(0.7) });
  const params = { prompt: 'a cat', seed: 3, steps: 4, width: 96, height: 64, scheduler: 'ddim' };
  const run = (extra: Record<string, unknown>, inputs: Record<string, unknown> = { controlImage: edges }, variant: Record<string, unknown> = {}, model = PLAIN) =>
    engine.run({ model, params: { ...params, ...extra }, variant, inputs });

  it('a control image of another size is resized, with a notice; canny on the way', async () => {
    const { result, images } = await run({ controlnet: { units: [{ preprocess: 'canny', low: 50, high: 100 }] } }, { controlImage: small });
    expect(result.notices?.[0]).toBe('ControlNet 1: control image resized from 48x32 to 96x64 (bilinear)');
    expect(result.notices?.[1]).toMatch(/^ControlNet: 1 net ran on 4 of 4 steps, \d+ ms in onnxruntime$/);
    expect(images[0]!.width).toBe(96);
  });
  it('with DeepCache: the ControlNet runs every step, or its residuals are reused on cached steps (fewer runs)', async () => {
    const dc = { deepcache: { interval: 2, branch: 0 } };
    const every = await run({ controlnet: { units: [{}], onCachedSteps: 'run' } }, undefined, dc);
    const reuse = await run({ controlnet: { units: [{}], onCachedSteps: 'reuse' } }, undefined, dc);
    expect(every.result.fullSteps).toEqual([0, 2]);
    expect(every.result.notices?.at(-1)).toMatch(/^ControlNet: 1 net ran on 4 of 4 steps, \d+ ms in onnxruntime$/);
    expect(reuse.result.notices?.at(-1)).toMatch(/^ControlNet: 1 net ran on 2 of 4 steps, \d+ ms in onnxruntime \(2 DeepCache cached steps reused the last full step's residuals\)$/);
    expect(reuse.images[0]!.data).not.toEqual(every.images[0]!.data);
  });
  it('two ControlNets, one image each (by path: the folder opened beside the model)', async () => {
    const disc = png('disc.png', { width: 96, height: 64, data: f32(ref.controlImages.disc!) });
    const { result } = await run({ controlnet: { units: [{ dir: CN_DIR, scale: 0.7 }, { scale: 0.4, start: 0.25, end: 0.75 }] } }, { controlImages: [edges, disc] });
    expect(result.notices?.at(-1)).toMatch(/^ControlNet: 2 nets ran on 4 of 4 steps/);
  });
  const bad: [string, Record<string, unknown>, Record<string, unknown> | undefined, string][] = [
    ['control image missing', { controlnet: { units: [{}] } }, {}, 'ControlNet 1: no control image'],
    ['start > end', { controlnet: { units: [{ start: 0.8, end: 0.2 }] } }, undefined, 'control start must be < control end'],
    ['start = end', { controlnet: { units: [{ start: 0.5, end: 0.5 }] } }, undefined, 'control start must be < control end'],
    ['negative scale', { controlnet: { units: [{ scale: -1 }] } }, undefined, 'controlnet scale must be >= 0'],
    ['end past 1', { controlnet: { units: [{ end: 1.5 }] } }, undefined, 'control end must be <= 1'],
    ['both controlImage and controlImages', {}, { controlImage: { path: '/x.png' }, controlImages: [{ path: '/y.png' }] }, 'give controlImage (one map for every ControlNet) or controlImages (one each), not both'],
    ['a ControlNet folder that is not there', { controlnet: { units: [{ dir: '/nonexistent/cn' }] } }, undefined, 'ControlNet /nonexistent/cn: not a folder'],
  ];
  for (const [name, extra, inputs, message] of bad) it(name, async () => expect(run(extra, inputs)).rejects.toThrow(message));
  it('images for another number of ControlNets: the counts named', async () => {
    await expect(run({ controlnet: { units: [{}] } }, { controlImages: [edges, edges] })).rejects.toThrow('2 control images for 1 ControlNets');
  });
  it('a ControlNet made for another UNet (channels): refused before any step', async () => {
    await expect(run({ controlnet: { units: [{ dir: CN_DIR }] } }, undefined, {}, fixture('tiny-sd')))
      .rejects.toThrow(`ControlNet 1 (${CN_DIR}): its block_out_channels is [4,8] but the UNet's is [16,16,32]`);
  });
  it('a ControlNet of another cross-attention width: refused before any step', async () => {
    const other = join(mkdtempSync(join(tmpdir(), 'cn-wide-')), 'controlnet');
    cpSync(CN_DIR, other, { recursive: true });
    const cfg = JSON.parse(readFileSync(join(other, 'config.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(other, 'config.json'), JSON.stringify({ ...cfg, cross_attention_dim: 768 }));
    let steps = 0;
    await expect(engine.run({ model: PLAIN, params: { ...params, controlnet: { units: [{ dir: other }] } }, variant: {}, inputs: { controlImage: edges } },
      { onEvent: (e) => { if (e.type === 'step') steps++; } })).rejects.toThrow("its cross_attention_dim is 768 but the UNet's is 32");
    expect(steps).toBe(0);
  });
});
