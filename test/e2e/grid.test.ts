/**
 * End to end: the Latency tab's noise wording, the DeepCache sweep's actions, the X/Y/Z grid and
 * the compatibility matrix, in Chromium against serve mode on the embedded model (tiny runs).
 * Screenshots go to test-output/grid/ at 1920x1080 and 1024x700.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPng } from '../../engine/index';
import { join } from 'node:path';
import { openStudio, ready, ROOT, runAB, setRange, skipE2e, type Studio } from './support/studio';

let s: Studio;
const done = (timeout = 240_000) => s.page.waitForFunction(() => document.querySelector('[data-testid=job-status]')?.textContent === 'done', undefined, { timeout, polling: 250 });
/** Both sizes the studio must fit: full HD and a small laptop window. */
async function shots(name: string): Promise<void> {
  await s.page.setViewportSize({ width: 1920, height: 1080 });
  await s.shot(`${name}-1920`);
  await s.page.setViewportSize({ width: 1024, height: 700 });
  await s.shot(`${name}-1024`);
  await s.page.setViewportSize({ width: 1920, height: 1080 });
}

describe.skipIf(skipE2e)('latency noise, sweep actions, grid and matrix in Chromium', () => {
  beforeAll(async () => {
    s = await openStudio('grid', { viewport: { width: 1920, height: 1080 } });
    await ready(s.page, s.url);
    await s.page.getByTestId('prompt').fill('grinning face, twemoji style');
    await setRange(s.page.getByTestId('steps'), 4);
    // 64x64 keeps every run short (the suite shares 2 cores)
    await s.page.getByLabel('width').selectOption('64');
    await s.page.getByLabel('height').selectOption('64');
  }, 240_000);
  afterAll(async () => {
    expect(s?.pageErrors ?? []).toEqual([]);
    await s?.close();
  });

  it('Latency: one run is marked a first run with no spread; with steady repeats it says whether A and B are within noise', async () => {
    const { page } = s;
    await setRange(page.getByLabel('Repeats per variant'), 1);
    await runAB(page);
    await page.getByTestId('tab-latency').click();
    await expect.poll(() => page.getByTestId('latency-basis').textContent()).toContain('first runs only');
    expect(await page.getByTestId('latency-noise').count()).toBe(0);
    const row = await page.locator('table.stats tbody tr').first().textContent();
    expect(row).toContain('(first run)');
    expect(await page.locator('table.stats tbody tr').first().locator('td').nth(4).textContent()).toBe('0'); // no steady runs
    await shots('latency-first-run');
    // the sessions are warm now: every run of the next job is steady
    await setRange(page.getByLabel('Repeats per variant'), 2);
    await runAB(page);
    await page.getByTestId('tab-latency').click();
    await expect.poll(() => page.getByTestId('latency-basis').textContent()).toContain('median total, steady state');
    expect(await page.getByTestId('latency-noise').textContent()).toMatch(/(within|beyond) noise: the IQRs of A and B (do not )?overlap/);
    await shots('latency-steady');
  }, 300_000);

  it('Sweep: spread per point, the threshold drawn, a tooltip naming N and branch, points and thumbnails open a comparison, apply to B', async () => {
    const { page } = s;
    await page.getByTestId('tab-sweep').click();
    await setRange(page.getByTestId('sweep-repeats'), 2);
    await page.getByTestId('run-sweep').click();
    await done();
    await expect.poll(() => page.getByTestId('sweep-best').textContent(), { timeout: 20_000 }).toMatch(/Fastest with SSIM ≥ 0\.950: N=\d+, branch 0 · [\d.]+ ms · IQR [\d.]+–[\d.]+ · n 2/);
    expect(await page.getByTestId('sweep-noise').textContent()).toMatch(/within noise|no IQR overlaps/i);
    expect(await page.locator('.recharts-reference-line').count()).toBe(1);
    await page.locator('path.recharts-symbols').nth(3).hover({ force: true });
    await expect.poll(() => page.getByTestId('sweep-tip').textContent()).toMatch(/N=\d+ · branch 0.*n 2.*SSIM/);
    await shots('sweep');
    await page.getByTestId('sweep-thumb-5-0').click();
    await expect.poll(() => page.getByTestId('ssim').textContent(), { timeout: 10_000 }).toMatch(/^0\.\d{4}$/);
    expect(await page.locator('.captions').textContent()).toContain('N=5 b0');
    await shots('sweep-pair-compare');
    // the sweep is still there behind the pair
    await page.getByTestId('tab-sweep').click();
    await page.getByTestId('sweep-apply-b').click();
    await expect.poll(() => page.getByTestId('variant-diff').textContent()).toMatch(/^B: DeepCache N=\d+ branch 0 uniform/);
  }, 300_000);

  it('Grid: any two axes, time with spread and SSIM per cell, bad values refused, a cell opens a comparison, one PNG with labels', async () => {
    const { page } = s;
    await page.getByTestId('tab-grid').click();
    await page.getByTestId('axis-1').selectOption('seed');
    await page.getByTestId('axis-values-1').fill('1, x');
    await expect.poll(() => page.getByTestId('grid-plan').textContent()).toBe('Seed: "x" is not a number');
    expect(await page.getByTestId('run-grid').isDisabled()).toBe(true);
    await page.getByTestId('axis-0').selectOption('deepcache.interval');
    await page.getByTestId('axis-values-0').fill('1, 3');
    await page.getByTestId('axis-values-1').fill('1, 2');
    await setRange(page.getByTestId('grid-repeats'), 2);
    expect(await page.getByTestId('grid-plan').textContent()).toContain('4 cells × 2 repeats');
    await page.getByTestId('run-grid').click();
    await done();
    await expect.poll(() => page.locator('td.cell.ran').count(), { timeout: 20_000 }).toBe(4);
    const cell1 = await page.getByTestId('cell-1').textContent();
    expect(cell1).toMatch(/ms · (IQR [\d.]+–[\d.]+ · n 2|first run)/);
    expect(cell1).toMatch(/SSIM 0\.\d{3}/);
    await shots('grid');
    const dl = page.waitForEvent('download');
    await page.getByTestId('export-grid-png').click();
    const file = join(ROOT, 'test-output', 'grid', 'grid-export.png');
    await (await dl).saveAs(file);
    const png = readPng(file);
    expect([png.width, png.height]).toEqual([150 + 2 * 200 + 8, 28 + 28 + 28 + 2 * (192 + 8 + 4 * 15 + 8) + 8]);
    expect(readFileSync(file).subarray(1, 4).toString()).toBe('PNG');
    await page.getByTestId('cell-open-3').click();
    await expect.poll(() => page.getByTestId('ssim').textContent(), { timeout: 10_000 }).toMatch(/^0\.\d{4}$/);
    await page.getByTestId('tab-grid').click();
    await page.getByTestId('cell-apply-1').click();
    await expect.poll(() => page.getByTestId('variant-diff').textContent()).toContain('DeepCache N=3');
  }, 300_000);

  it('Matrix: every pair of the chosen options: ran, refused with the reason, failed with the error', async () => {
    const { page } = s;
    await page.getByTestId('tab-matrix').click();
    await page.getByTestId('matrix-none').click();
    for (const label of ['Provider coreml', 'Precision bf16', 'DeepCache on']) await page.getByTestId('matrix-settings').locator('label.toggle', { hasText: label }).click();
    await setRange(page.getByTestId('matrix-repeats'), 1);
    expect(await page.getByTestId('matrix-plan').textContent()).toContain('3 options alone and their pairs');
    await page.getByTestId('run-matrix').click();
    await done();
    await expect.poll(() => page.locator('td.cell').count(), { timeout: 20_000 }).toBe(6);
    expect(await page.locator('td.cell.ran').count()).toBe(1); // DeepCache alone
    expect(await page.locator('td.cell.refused').count()).toBe(3); // everything with bf16
    expect(await page.locator('td.cell.failed').count()).toBe(2); // coreml alone and with DeepCache
    expect(await page.locator('td.cell.failed').first().textContent()).toContain('execution provider coreml is not available');
    expect(await page.locator('td.cell.refused').first().textContent()).toContain('precision bf16 needs a provider with bf16 kernels');
    expect(await page.getByTestId('matrix-base').textContent()).toMatch(/Base: [\d.]+ ms/);
    await shots('matrix');
  }, 300_000);
});
