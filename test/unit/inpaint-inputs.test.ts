import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encode } from 'fast-png';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../engine/engine';
import { decodeMask } from '../../engine/image/mask';
import { loadModel, type LoadedModel } from '../../engine/model/model';
import { generate } from '../../engine/pipeline/generate';
import { placeGarment } from '../../engine/pipeline/stages/garment';
import { FIXTURE_MODEL } from '../parity/reference';

const INPAINT_MODEL = fileURLToPath(new URL('../fixtures/tiny-sd-inpaint', import.meta.url));
const base = { prompt: 'a cat', seed: 1, steps: 2 };
const img = (w: number, h: number, v = 0.5) => ({ width: w, height: h, data: new Float32Array(w * h * 3).fill(v) });
/** A mask whose left half is white (repaint). */
const halfMask = (w: number, h: number) => ({ width: w, height: h, data: Float32Array.from({ length: w * h }, (_, p) => (p % w < w / 2 ? 1 : 0)) });

let nine: LoadedModel, four: LoadedModel;
beforeAll(async () => {
  [nine, four] = await Promise.all([loadModel(INPAINT_MODEL), loadModel(FIXTURE_MODEL)]);
});
afterAll(async () => Promise.all([nine.release(), four.release()]));

describe('inpainting: bad inputs are refused, or fixed and said', () => {
  it('a 9-channel inpainting UNet without a mask: a clear error', async () => {
    await expect(generate(nine, base, { initImage: img(96, 64) })).rejects.toThrow('an inpainting UNet (9 input channels: latents, mask, masked-image latents) needs a mask');
  });
  it('a mask without an init image (either UNet)', async () => {
    await expect(generate(nine, base, { mask: halfMask(96, 64) })).rejects.toThrow('a mask needs an init image');
    await expect(generate(four, base, { mask: halfMask(96, 64) })).rejects.toThrow('a mask needs an init image');
  });
  it('a garment without a mask', async () => {
    await expect(generate(four, base, { initImage: img(96, 64), garment: img(8, 8) })).rejects.toThrow('try-on needs a mask of the garment region');
  });
  it('a mask of another size is resized to the image, with a warning', async () => {
    const res = await generate(four, base, { initImage: img(96, 64), mask: halfMask(48, 32) });
    expect(res.notices).toEqual(['the mask is 48x32; resized to the image\'s 96x64']);
    expect(res.images[0]!.width).toBe(96);
  });
  it('an all-black mask runs and warns that nothing is repainted', async () => {
    const res = await generate(nine, base, { initImage: img(96, 64), mask: { width: 96, height: 64, data: new Float32Array(96 * 64) } });
    expect(res.notices).toContain('the mask is all black: nothing is repainted (white = repaint)');
  });
  it('an init image of another size than asked is resized (as diffusers does), with a warning', async () => {
    const res = await generate(four, { ...base, width: 96, height: 64 }, { initImage: img(48, 32), mask: halfMask(96, 64) });
    expect(res.notices).toEqual(['the init image is 48x32; resized to the asked 96x64']);
  });
  it('inpainting defaults strength to 1 (diffusers\' inpaint default), img2img keeps 0.8', async () => {
    const res = await generate(four, base, { initImage: img(96, 64), mask: halfMask(96, 64) });
    expect(res.params.strength).toBe(1);
  });
});

describe('mask PNGs: which kinds are read and how', () => {
  const png = (data: Uint8Array | Uint16Array, channels: number, depth: 1 | 8 | 16 = 8, w = 2, h = 1) => encode({ width: w, height: h, data, channels, depth });
  it('8-bit grey as it is, RGB by PIL\'s luminance, 16-bit grey at full precision, 1-bit grey', () => {
    expect([...decodeMask(png(Uint8Array.of(0, 255), 1), 'g8').data]).toEqual([0, 1]);
    const rgb = decodeMask(png(Uint8Array.of(255, 0, 0, 0, 0, 255), 3), 'rgb').data;
    expect(rgb[0]).toBeCloseTo(76 / 255, 6); // (255·19595 + 0x8000) >> 16 = 76, as PIL's convert('L')
    expect(rgb[1]).toBeCloseTo(29 / 255, 6);
    expect([...decodeMask(png(Uint16Array.of(32768, 65535), 1, 16), 'g16').data].map((v) => +v.toFixed(5))).toEqual([+(32768 / 65535).toFixed(5), 1]);
    expect([...decodeMask(png(Uint8Array.of(0b10100000), 1, 1, 3, 1), 'g1').data]).toEqual([1, 0, 1]);
  });
  it('opaque RGBA is read as RGB; RGBA or grey+alpha with transparency is refused, naming the pixel', () => {
    expect([...decodeMask(png(Uint8Array.of(255, 255, 255, 255, 0, 0, 0, 255), 4), 'opaque').data]).toEqual([1, 0]);
    expect(() => decodeMask(png(Uint8Array.of(255, 255, 255, 255, 0, 0, 0, 0), 4), 'holes.png')).toThrow('holes.png: the mask has transparency (pixel (1, 0) has alpha 0 of 255)');
    expect(() => decodeMask(png(Uint8Array.of(255, 128, 0, 255), 2), 'ga.png')).toThrow('ga.png: the mask has transparency');
  });
  it('through the engine: an RGBA mask with transparency fails naming the input; a resized mask warns; DeepCache on the 9-channel UNet', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'inpaint-'));
    const initPath = join(dir, 'init.png'), maskPath = join(dir, 'mask.png');
    writeFileSync(initPath, encode({ width: 96, height: 64, data: new Uint8Array(96 * 64 * 3).fill(128), channels: 3, depth: 8 }));
    writeFileSync(maskPath, png(new Uint8Array(96 * 64 * 4), 4, 8, 96, 64));
    const engine = new Engine(join(dir, 'cache'));
    try {
      await expect(engine.run({ model: FIXTURE_MODEL, params: base, variant: {}, inputs: { initImage: { path: initPath }, mask: { path: maskPath } } }))
        .rejects.toThrow(`mask: ${maskPath}: the mask has transparency`);
      // a grey mask of another size: the run's result carries the resize warning
      writeFileSync(maskPath, png(new Uint8Array(48 * 32).fill(255), 1, 8, 48, 32));
      const { result } = await engine.run({ model: FIXTURE_MODEL, params: base, variant: {}, inputs: { initImage: { path: initPath }, mask: { path: maskPath } } });
      expect(result.notices).toEqual(['the mask is 48x32; resized to the image\'s 96x64']);
      // the try-on comparison's DeepCache works on a 9-channel inpainting UNet: its cut graphs take the concatenated sample
      const dc = await engine.run({ model: INPAINT_MODEL, params: { ...base, steps: 4, scheduler: 'ddim' }, variant: { deepcache: { interval: 3, branch: 0 } }, inputs: { initImage: { path: initPath }, mask: { path: maskPath } } });
      expect(dc.result.fullSteps).toEqual([0, 3]);
      expect(dc.images[0]!.width).toBe(96);
    } finally {
      await engine.release();
    }
  });
});

describe('try-on: the garment is placed into the mask\'s bounding box', () => {
  it('the inpainting pipeline (9-channel UNet) takes a garment too', async () => {
    const res = await generate(nine, { ...base, strength: 0.5, scheduler: 'ddim' }, { initImage: img(96, 64), mask: halfMask(96, 64), garment: img(8, 8, 0.9) });
    expect(res.timings.stepMs).toHaveLength(1);
  });
  it('pixels inside the mask take the (resized) garment, pixels outside keep the person', () => {
    const person = img(4, 4, 0.2), mask = new Float32Array(16);
    for (const p of [5, 6, 9, 10]) mask[p] = 1; // the 2x2 centre
    const garment = img(8, 8, 0.9);
    const out = placeGarment(person, mask, garment);
    for (let p = 0; p < 16; p++) expect(out.data[p * 3]).toBeCloseTo(mask[p] ? 0.9 : 0.2, 6);
    expect(() => placeGarment(person, new Float32Array(16), garment)).toThrow('the mask is all black');
  });
});
