/**
 * End to end: the ControlNet panel in Chromium against serve mode, on the tiny ControlNet fixture
 * (plain UNet: the engine's residual surgery) added by path, then the embedded emoji ControlNet's
 * one-click demo (edges -> emoji). Screenshots: test-output/controlnet/.
 */
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canny } from '../../app/canny';
import { CANNY_DEFAULTS } from '../../app/controlnet';
import { EMOJI_CONTROLNET_DEMO as DEMO } from '../../app/presets';
import type { HistoryManifest } from '../../app/studio';
import { encodePng, toRgb8 } from '../../engine/index';
import { readPng } from '../../engine/image/png';
import { ROOT, skipE2e, setRange, startStudio, type Studio } from './support/serve';

const SHOTS = join(ROOT, 'test-output', 'controlnet');

/** `name`-1024x700.png (the page is at that size) and `name`-1920x1080.png, `first` then the panel scrolled into view. */
async function shotPair(page: Studio['page'], name: string, first = 'controlnet-panel'): Promise<void> {
  await page.getByTestId(first).scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(SHOTS, `${name}-1024x700.png`) });
  await page.setViewportSize({ width: 1920, height: 1080 });
  await page.getByTestId('controlnet-panel').scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(SHOTS, `${name}-1920x1080.png`) });
}
const MODEL = join(ROOT, 'test/fixtures/tiny-sd-controlnet-plain');
const EMOJI = join(ROOT, 'assets/models/emoji-sd');

/** Share of `want`'s edge pixels with an edge of `got` within 1 px (recall, as edge_follow's). */
function recall(got: Uint8Array, want: Uint8Array, w: number, h: number): number {
  let n = 0, hit = 0;
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    if (!want[y * w + x]) continue;
    n++;
    if ([-1, 0, 1].some((dy) => [-1, 0, 1].some((dx) => got[(y + dy) * w + x + dx] && x + dx >= 0 && x + dx < w))) hit++;
  }
  return hit / Math.max(n, 1);
}

/** A disc and a bar on grey, 96x64: not the run's 64x64, so the panel and the run say it is resized. */
function controlPng(): Buffer {
  const w = 96, h = 64, data = new Float32Array(w * h * 3).fill(0.35);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    if ((x - 34) ** 2 + (y - 30) ** 2 < 18 ** 2 || (x > 62 && x < 84 && y > 10 && y < 54)) data.fill(0.95, (y * w + x) * 3, (y * w + x) * 3 + 3);
  }
  return Buffer.from(encodePng(toRgb8({ width: w, height: h, data })));
}

describe.skipIf(skipE2e)('ControlNet panel in Chromium (serve mode)', () => {
  let s: Studio;
  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    s = await startStudio({ width: 1024, height: 700 });
  }, 240_000);
  afterAll(async () => s?.close());

  it('adds the fixture, turns ControlNet on (its folder offered), uploads a map, previews canny, runs A vs B (B: DeepCache, residuals reused)', async () => {
    const { page } = s;
    await page.goto(s.url);
    await expect.poll(() => page.getByTestId('model-select').locator('option').count(), { timeout: 30_000 }).toBeGreaterThan(0);
    await page.getByLabel('model folder').fill(MODEL);
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    await expect.poll(() => page.getByTestId('model-select').inputValue(), { timeout: 15_000 }).toBe(MODEL);
    await setRange(page.getByTestId('steps'), 4);

    await page.locator('label.toggle', { has: page.getByTestId('controlnet-toggle') }).click();
    await expect.poll(() => page.getByLabel('ControlNet 1 folder').inputValue()).toBe(join(MODEL, 'controlnet'));
    await page.getByTestId('control-image-file').setInputFiles({ name: 'shapes.png', mimeType: 'image/png', buffer: controlPng() });
    await expect.poll(() => page.getByTestId('control-size').textContent(), { timeout: 10_000 }).toBe('96×64 → resized to 64×64 at run time');
    await setRange(page.getByTestId('canny-low'), 20);
    await setRange(page.getByTestId('canny-high'), 60);
    // the live preview is the canny map: black and white pixels only, some of them edges
    await expect.poll(() => page.getByTestId('control-map').evaluate((c: HTMLCanvasElement) => {
      const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      let white = 0, other = 0;
      for (let i = 0; i < d.length; i += 4) d[i] === 255 ? white++ : d[i] === 0 ? 0 : other++;
      return `${c.width}x${c.height} ${white > 50 ? 'edges' : 'none'} ${other}`;
    }), { timeout: 10_000 }).toBe('96x64 edges 0');
    await page.getByTestId('controlnet-panel').scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(SHOTS, 'panel-1024x700.png') });

    await page.getByTestId('copy-a-to-b').click();
    await page.getByTestId('tab-variant-B').click();
    await page.getByTestId('variant-B').locator('label.toggle', { hasText: 'DeepCache' }).first().click();
    await setRange(page.getByTestId('deepcache-interval-B'), 2);
    await page.getByLabel('ControlNet on DeepCache cached steps').selectOption('reuse');
    await page.getByTestId('run').click();
    await expect.poll(() => page.getByTestId('job-status').textContent(), { timeout: 180_000, interval: 500 }).toBe('done');

    const [m] = readdirSync(join(s.workspace, 'runs')).filter((d) => !d.startsWith('.'))
      .map((d) => JSON.parse(readFileSync(join(s.workspace, 'runs', d, 'manifest.json'), 'utf8')) as HistoryManifest);
    expect(m!.params.controlnet).toMatchObject({ units: [{ dir: join(MODEL, 'controlnet'), scale: 1, start: 0, end: 1, preprocess: 'canny', low: 20, high: 60 }], onCachedSteps: 'reuse' });
    expect(m!.inputs?.controlImage).toBeDefined();
    const notices = (side: string) => m!.compare!.runs.find((r) => r.side === side)!.result.notices ?? [];
    expect(notices('A')[0]).toBe(`ControlNet 1 (${join(MODEL, 'controlnet')}): control image resized from 96x64 to 64x64 (bilinear)`);
    // PNDM runs one UNet step more than asked (its PLMS warm-up)
    expect(notices('A').at(-1)).toMatch(/^ControlNet: 1 net ran on (\d+) of \1 steps, \d+ ms in onnxruntime$/);
    const b = m!.compare!.runs.find((r) => r.side === 'B')!.result, n = b.timings.stepMs.length, full = b.fullSteps.length;
    expect(full).toBeLessThan(n);
    expect(notices('B').at(-1)).toMatch(new RegExp(`^ControlNet: 1 net ran on ${full} of ${n} steps, \\d+ ms in onnxruntime \\(${n - full} DeepCache cached steps reused`));
    await expect.poll(() => page.getByTestId('control-notices').locator('li').count()).toBeGreaterThanOrEqual(3);
    expect(await page.getByTestId('control-notices').textContent()).toContain('B: ControlNet: 1 net ran on');
    await shotPair(page, 'after-run', 'control-notices');
    expect(s.pageErrors).toEqual([]);
  }, 300_000);

  it('the edges -> emoji demo: one click picks the embedded model and its ControlNet, the bundled map, an empty prompt; the image follows the edges', async () => {
    const { page } = s;
    await page.setViewportSize({ width: 1024, height: 700 });
    await page.evaluate(() => localStorage.clear());
    await page.goto(s.url);
    await expect.poll(() => page.getByTestId('model-select').locator('option').count(), { timeout: 30_000 }).toBeGreaterThan(0);
    await page.getByTestId('controlnet-demo').click();
    await expect.poll(() => page.getByTestId('model-select').inputValue(), { timeout: 15_000 }).toBe(EMOJI);
    await expect.poll(() => page.getByLabel('ControlNet 1 folder').inputValue(), { timeout: 15_000 }).toBe(join(EMOJI, '..', DEMO.controlnet));
    await expect.poll(() => page.getByTestId('control-size').textContent()).toBe("128×128 · the run's size");
    await page.getByTestId('controlnet-demo').scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(SHOTS, 'demo-loaded-1024x700.png') });
    await page.getByTestId('run').click();
    await expect.poll(() => page.getByTestId('job-status').textContent(), { timeout: 240_000, interval: 500 }).toBe('done');

    const runs = join(s.workspace, 'runs');
    const [dir] = readdirSync(runs).filter((d) => !d.startsWith('.') && (JSON.parse(readFileSync(join(runs, d, 'manifest.json'), 'utf8')) as HistoryManifest).model.dir === EMOJI);
    const m = JSON.parse(readFileSync(join(runs, dir!, 'manifest.json'), 'utf8')) as HistoryManifest;
    expect(m.params).toMatchObject({ prompt: '', seed: DEMO.params.seed, steps: DEMO.params.steps, guidance: DEMO.params.guidance });
    expect(m.params.controlnet).toMatchObject({ units: [{ dir: join(EMOJI, '..', DEMO.controlnet), scale: 1, start: 0, end: 1, preprocess: 'none' }] });
    // the generated emoji's canny edges cover most of the map's (the engine test scores F1 on 8 maps)
    const map = readPng(join(ROOT, DEMO.image)), a = readPng(join(runs, dir!, 'a.png'));
    const want = Uint8Array.from({ length: map.width * map.height }, (_, p) => map.data[p * 3]!);
    const got = canny(toRgb8(a).data, a.width, a.height, 3, CANNY_DEFAULTS.low, CANNY_DEFAULTS.high);
    const r = recall(got, want, a.width, a.height);
    console.log(`demo: ${[...want].filter(Boolean).length} control edge pixels, recall of the generated edges ${r.toFixed(3)}`);
    expect(r).toBeGreaterThan(0.5);
    await shotPair(page, 'demo');
    expect(s.pageErrors).toEqual([]);
  }, 300_000);
});
