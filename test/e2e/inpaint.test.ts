/** Inpainting in the studio: paint a mask on the init image, A/B inpaint on the embedded model, the try-on preset, the demo. */
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HistoryManifest } from '../../app/studio';
import { readMask } from '../../engine/image/mask';
import { readPng } from '../../engine/index';
import { ROOT, setRange, startStudio, type Studio } from './support/serve';
import { skipE2e } from './support/studio';

const SHOTS = join(ROOT, 'test-output', 'inpaint');
const DEMO = join(ROOT, 'assets/demo/emoji-inpaint-image.png');
let s: Studio;

const shot = async (name: string): Promise<void> => {
  for (const [w, h] of [[1024, 700], [1920, 1080]] as const) {
    await s.page.setViewportSize({ width: w, height: h });
    await s.page.waitForTimeout(200);
    const editor = s.page.getByTestId('mask-editor');
    if (await editor.count()) await editor.scrollIntoViewIfNeeded(); // the left panel scrolls at 1024x700
    await s.page.screenshot({ path: join(SHOTS, `${name}-${w}x${h}.png`), fullPage: false });
  }
};

/** Mean |a - b| inside and outside the mask (RGB floats). */
function meanDiff(a: Float32Array, b: Float32Array, mask: Float32Array): { inside: number; outside: number } {
  const acc = { inside: [0, 0], outside: [0, 0] };
  for (let p = 0; p < mask.length; p++) {
    const k = mask[p]! >= 0.5 ? 'inside' : 'outside';
    for (let c = 0; c < 3; c++) acc[k][0] += Math.abs(a[p * 3 + c]! - b[p * 3 + c]!);
    acc[k][1] += 3;
  }
  return { inside: acc.inside[0]! / acc.inside[1]!, outside: acc.outside[0]! / acc.outside[1]! };
}

describe.skipIf(skipE2e)('inpainting in the studio (Chromium against serve mode)', () => {
  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    s = await startStudio({ width: 1920, height: 1080 });
  }, 240_000);
  afterAll(async () => s?.close());

  it('paints a mask on the init image, runs A/B inpainting: both change inside the mask only, and the manifest keeps the mask', async () => {
    const { page } = s;
    await page.goto(s.url);
    await expect.poll(() => page.getByTestId('model-select').locator('option').count(), { timeout: 30_000 }).toBeGreaterThan(0);
    await page.getByTestId('init-image-file').setInputFiles(DEMO);
    const canvas = page.getByTestId('mask-canvas');
    await canvas.waitFor();
    await setRange(page.getByTestId('mask-brush'), 30);
    // a horizontal stroke across the lower middle of the 128x128 emoji (the inputs column scrolls: bring it into view)
    await canvas.scrollIntoViewIfNeeded();
    const box = (await canvas.boundingBox())!;
    await page.mouse.move(box.x + box.width * 0.3, box.y + box.height * 0.7);
    await page.mouse.down();
    for (let i = 1; i <= 8; i++) await page.mouse.move(box.x + box.width * (0.3 + 0.05 * i), box.y + box.height * 0.7);
    await page.mouse.up();
    await expect.poll(() => page.getByTestId('mask-editor').textContent(), { timeout: 20_000 }).toContain('· set');
    await page.getByTestId('prompt').fill('face with tongue, twemoji style');
    await setRange(page.getByTestId('steps'), 8);
    await setRange(page.getByLabel('Repeats per variant'), 1);
    await shot('mask-painted');
    await page.getByTestId('run').click();
    await expect.poll(() => page.getByTestId('job-status').textContent(), { timeout: 240_000, interval: 500 }).toBe('done');
    await shot('inpaint-result');

    const runs = join(s.workspace, 'runs');
    const id = readdirSync(runs).find((d) => !d.startsWith('.'))!;
    const m = JSON.parse(readFileSync(join(runs, id, 'manifest.json'), 'utf8')) as HistoryManifest;
    expect(m.inputs?.mask).toMatchObject({ sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    const maskRef = m.inputs!.mask as { sha256: string };
    const mask = readMask(join(s.workspace, 'inputs', `${maskRef.sha256}.png`));
    const painted = mask.data.filter((v) => v >= 0.5).length / mask.data.length;
    expect(painted).toBeGreaterThan(0.05);
    expect(painted).toBeLessThan(0.5);
    const init = readPng(DEMO);
    for (const side of ['a', 'b']) {
      const out = readPng(join(runs, id, `${side}.png`));
      const d = meanDiff(out.data, init.data, mask.data);
      console.log(`inpaint e2e ${side}: mean |out - init| inside the mask ${d.inside.toFixed(3)}, outside ${d.outside.toFixed(3)}`);
      // outside: only the VAE's round trip; inside: repainted
      expect(d.inside).toBeGreaterThan(2 * d.outside);
      expect(d.outside).toBeLessThan(0.06);
    }
  }, 300_000);

  it('the try-on button fills 576x768, 25 steps, strength and prompt, B = DeepCache N=3, and asks for the garment', async () => {
    const { page } = s;
    await page.getByTestId('tryon-preset').click();
    await expect.poll(() => page.getByTestId('init-image-size').textContent()).toBe('128×128 · resized to 576×768 (try-on)');
    expect(await page.getByTestId('prompt').inputValue()).toBe('a photo of a person wearing the garment, detailed fabric, natural light');
    expect(await page.getByTestId('steps').inputValue()).toBe('25');
    expect(await page.getByTestId('strength').inputValue()).toBe('0.75');
    await page.getByTestId('tryon-inputs').waitFor();
    expect(await page.getByTestId('tryon-missing').textContent()).toBe('needs the garment');
    await page.getByTestId('garment-file').setInputFiles(DEMO);
    await page.getByTestId('garment-preview').waitFor();
    expect(await page.getByTestId('tryon-missing').count()).toBe(0);
    await page.getByTestId('tab-variant-B').click();
    await expect.poll(() => page.getByTestId('variant-diff').textContent()).toContain('DeepCache N=3');
    await shot('tryon-preset');
    // without an init image the size fields show the preset's
    await page.getByTestId('init-image-clear').click();
    await expect.poll(() => page.getByLabel('width').inputValue()).toBe('576');
    expect(await page.getByLabel('height').inputValue()).toBe('768');
  }, 60_000);

  it('the inpaint demo loads the bundled emoji and mask on one click', async () => {
    const { page } = s;
    await page.getByTestId('inpaint-demo').click();
    await page.getByTestId('init-image-preview').waitFor();
    await expect.poll(() => page.getByTestId('mask-editor').textContent(), { timeout: 20_000 }).toContain('· set');
    expect(await page.getByTestId('prompt').inputValue()).toBe('face with tongue, twemoji style');
    await page.waitForTimeout(300);
    await shot('inpaint-demo');
    expect(s.pageErrors).toEqual([]);
  }, 60_000);
});
