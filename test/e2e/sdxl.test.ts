/**
 * End to end: the studio runs an SDXL folder (tiny-sdxl) added through the model picker: size from the
 * folder, A vs B (B = A + DeepCache), both images and the history entry. Screenshots in test-output/sdxl/.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BrowserContext, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HistoryManifest } from '../../app/studio';
import { launchChromium, ROOT, skipE2e, startServe, stopServe } from './support/serve';

const SDXL = fileURLToPath(new URL('../fixtures/tiny-sdxl', import.meta.url));
const SHOTS = join(ROOT, 'test-output', 'sdxl');

/** React reads range inputs through the native setter and an input event. */
const setRange = (input: Locator, value: number) => input.evaluate((el, v) => {
  Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value')!.set!.call(el, String(v));
  el.dispatchEvent(new Event('input', { bubbles: true }));
}, value);

describe.skipIf(skipE2e)('studio on an SDXL folder (Chromium, serve mode)', () => {
  let server: ChildProcess | undefined, browser: BrowserContext | undefined, page: Page, url: string, workspace: string;
  const pageErrors: string[] = [];
  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    ({ server, url, workspace } = await startServe());
    browser = await launchChromium();
    page = browser.pages()[0] ?? (await browser.newPage());
    page.on('pageerror', (e) => pageErrors.push(e.message));
  }, 240_000);
  afterAll(async () => {
    await browser?.close();
    await stopServe(server);
  });

  it('adds tiny-sdxl by path, takes its size, runs A vs B and keeps it in history', async () => {
    await page.goto(url);
    await expect.poll(() => page.getByTestId('model-select').locator('option').count(), { timeout: 30_000 }).toBeGreaterThan(0);
    await page.getByLabel('model folder').fill(SDXL);
    await page.getByRole('button', { name: 'Add' }).click();
    await expect.poll(() => page.getByTestId('model-select').inputValue(), { timeout: 20_000 }).toBe(SDXL);
    expect(await page.getByTestId('model-select').locator('option:checked').textContent()).toBe('tiny-sdxl · user · 64px');
    expect([await page.getByLabel('width').inputValue(), await page.getByLabel('height').inputValue()]).toEqual(['64', '64']);
    await page.getByTestId('prompt').fill('a photo of an astronaut riding a horse');
    await setRange(page.getByTestId('steps'), 4);
    await page.getByTestId('copy-a-to-b').click();
    await page.getByTestId('tab-variant-B').click();
    await page.getByTestId('variant-B').locator('label.toggle', { hasText: 'DeepCache' }).first().click();
    await setRange(page.getByTestId('deepcache-interval-B'), 2);
    await page.getByTestId('run').click();
    await expect.poll(() => page.getByTestId('job-status').textContent(), { timeout: 180_000, interval: 500 }).toBe('done');
    const loaded = (alt: string) => page.locator(`img[alt="${alt}"]`).first().evaluate((i: HTMLImageElement) => i.complete && i.naturalWidth === 64);
    await expect.poll(() => loaded('A'), { timeout: 10_000 }).toBe(true);
    await expect.poll(() => loaded('B')).toBe(true);
    await expect.poll(() => page.getByTestId('ssim').textContent()).toMatch(/^0\.\d{4}$/);
    for (const [w, h] of [[1024, 700], [1920, 1080]] as const) {
      await page.setViewportSize({ width: w, height: h });
      await page.waitForTimeout(300);
      await page.screenshot({ path: join(SHOTS, `sdxl-compare-${w}x${h}.png`) });
    }
    const runs = readdirSync(join(workspace, 'runs')).filter((d) => !d.startsWith('.'))
      .map((d) => JSON.parse(readFileSync(join(workspace, 'runs', d, 'manifest.json'), 'utf8')) as HistoryManifest);
    const done = runs.find((m) => m.kind === 'compare' && m.status === 'done')!;
    expect(done.model.name).toBe('tiny-sdxl');
    expect(done.compare!.runs[1]!.result.fullSteps).toEqual([0, 2]);
    expect(done.compare!.runs[0]!.result.params).toMatchObject({ width: 64, height: 64, scheduler: 'euler' });
    expect(pageErrors).toEqual([]);
  }, 300_000);
});
