/**
 * The Compare tab's verdict and the things around it, as a user meets them (issue 14 items 1, 3,
 * 6, 8, 9, 10): serve mode on the embedded model in Chromium. Screenshots: test-output/verdict/.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HistoryManifest } from '../../app/studio';
import { readPng } from '../../engine/index';
import { openStudio, ready, runAB, setRange, skipE2e, type Studio } from './support/studio';

const SIZES = [[1024, 700], [1920, 1080]] as const;

/** The image pixel the pixel inspector reads under a viewport point (fractions of the viewport). */
async function pixelAt(page: Page, pane: number, fx = 0.5, fy = 0.5): Promise<{ x: number; y: number }> {
  const box = (await page.getByTestId('viewport').nth(pane).boundingBox())!;
  await page.mouse.move(box.x + box.width * fx, box.y + box.height * fy);
  const text = await page.getByTestId('inspector').textContent({ timeout: 5_000 });
  const m = /x (\d+) y (\d+)/.exec(text ?? '');
  if (!m) throw new Error(`the inspector reads "${text}"`);
  return { x: Number(m[1]), y: Number(m[2]) };
}

const entries = (workspace: string): HistoryManifest[] => readdirSync(join(workspace, 'runs')).filter((d) => !d.startsWith('.'))
  .map((d) => JSON.parse(readFileSync(join(workspace, 'runs', d, 'manifest.json'), 'utf8')) as HistoryManifest)
  .filter((m) => m.kind === 'compare' && m.status === 'done').sort((a, b) => a.createdAt.localeCompare(b.createdAt));

describe.skipIf(skipE2e)('the Compare verdict, zoom in image coordinates, fallback labels, step counts, input feedback', () => {
  let s: Studio;
  let page: Page;
  beforeAll(async () => {
    s = await openStudio('verdict', { viewport: { width: 1024, height: 700 } });
    page = s.page;
    await ready(page, s.url);
  }, 240_000);
  afterAll(async () => s?.close());

  it('says what is dropped from a long prompt, counts tokens, and warns of an empty one', async () => {
    await page.getByTestId('prompt').fill('grinning face');
    await expect.poll(() => page.getByTestId('prompt-tokens').textContent(), { timeout: 10_000 }).toMatch(/^\d+\/75 tokens$/);
    const long = `${Array.from({ length: 90 }, (_, i) => `word${i}`).join(' ')} lastwords here`;
    await page.getByTestId('prompt').fill(long);
    await expect.poll(() => page.getByTestId('prompt-dropped').textContent(), { timeout: 10_000 }).toContain('lastwords here” is dropped');
    expect(await page.getByTestId('prompt-tokens').getAttribute('class')).toContain('over');
    await s.shot('01-long-prompt-1024x700');
    await page.getByTestId('prompt').fill('');
    await expect.poll(() => page.getByTestId('prompt-empty').count()).toBe(1);
    await page.getByTestId('prompt').fill('grinning face');
    await expect.poll(() => page.getByTestId('prompt-dropped').count()).toBe(0);
  });

  it('shows the verdict: speed-up with its spread, PSNR, SSIM, a reading against thresholds, and the most different tile', async () => {
    await setRange(page.getByTestId('steps'), 4);
    // 64x64: the verdict, the 8x8 tiles and the inspector do not depend on the size (8 runs share 2 cores)
    await page.getByLabel('width').selectOption('64');
    await page.getByLabel('height').selectOption('64');
    await setRange(page.getByLabel('Repeats per variant'), 3); // the first run of a side is a warm-up: 2 steady runs give a spread
    await page.getByTestId('tab-variant-B').click();
    await setRange(page.getByTestId('deepcache-interval-B'), 2);
    await runAB(page);
    // PNDM: 4 steps are 5 UNet calls; the run says steps as set, and how long it took
    await expect.poll(() => page.getByTestId('progress-A').textContent()).toMatch(/done · 3 runs in \d+\.\d s/);
    expect(await page.getByTestId('job-took').textContent()).toMatch(/^ in \d+\.\d s$/);
    const verdict = page.getByTestId('verdict');
    await page.getByTestId('reading').waitFor({ timeout: 15_000 });
    expect(await page.getByTestId('verdict-speed').textContent()).toMatch(/^B \d+\.\d\d× (faster|slower) \(\d+\.\d\d×–\d+\.\d\d×, IQR of 2\+2 runs\)$/);
    const ssim = Number(await page.getByTestId('ssim').textContent());
    expect(ssim).toBeGreaterThan(0);
    expect(ssim).toBeLessThan(1);
    const reading = (): Promise<string | null> => page.getByTestId('reading').textContent();
    expect(['visually identical', 'small differences', 'different']).toContain(await reading());
    for (const [w, h] of SIZES) {
      await page.setViewportSize({ width: w, height: h });
      await s.shot(`02-verdict-${w}x${h}`);
    }
    await page.setViewportSize({ width: 1024, height: 700 });

    // the user's thresholds: above this pair's SSIM is "different"; a refused pair is said, not applied
    await verdict.getByTestId('thresholds').locator('summary').click();
    await page.getByTestId('threshold-identical').fill('1');
    await page.getByTestId('threshold-small').fill(String(Math.min(1, ssim + 0.0001)));
    await expect.poll(reading).toBe('different');
    await page.getByTestId('threshold-small').fill(String(Math.max(0, ssim - 0.01)));
    await expect.poll(reading).toBe('small differences');
    await page.getByTestId('threshold-identical').fill(String(Math.max(0, ssim - 0.02)));
    await expect.poll(() => page.getByTestId('threshold-error').textContent()).toContain('must not be above');
    expect(await reading()).toBe('small differences');
    await s.shot('03-thresholds-1024x700');
    await page.getByTestId('threshold-small').fill(String(Math.max(0, ssim - 0.03)));
    await expect.poll(reading).toBe('visually identical');
    await verdict.getByTestId('thresholds').locator('summary').click();

    // the most different tile: marked on every pane at the same image region, and zoomed to
    await page.getByTestId('show-worst').click();
    await expect.poll(() => page.getByTestId('highlight').count()).toBe(2);
    const marks = await page.getByTestId('highlight').evaluateAll((els) => els.map((e) => { const r = e.getBoundingClientRect(), p = e.parentElement!.getBoundingClientRect(); return [r.left - p.left, r.top - p.top, r.width, r.height].map(Math.round); }));
    expect(marks[0]).toEqual(marks[1]);
    expect(Number((await page.getByTestId('zoom-level').textContent())!.replace('%', ''))).toBeGreaterThan(100);
    await s.shot('04-most-different-1024x700');
    await page.getByTestId('view-difference').click();
    expect(await page.getByTestId('highlight').count()).toBe(1);
    await page.getByTestId('show-worst').click(); // hide
    expect(await page.getByTestId('highlight').count()).toBe(0);
    await page.getByTestId('view-side-by-side').click();
    expect(s.pageErrors).toEqual([]);
  }, 240_000);

  it('zooms about the view centre and keeps zoom and pan in image coordinates across views; the inspector reads both PNGs', async () => {
    await page.getByRole('button', { name: 'fit' }).click();
    const c0 = await pixelAt(page, 0);
    await page.getByRole('button', { name: 'zoom in' }).click();
    await page.getByRole('button', { name: 'zoom in' }).click();
    expect(await page.getByTestId('zoom-level').textContent()).toBe('225%');
    const c1 = await pixelAt(page, 0);
    expect(Math.abs(c1.x - c0.x)).toBeLessThanOrEqual(1); // the centre stays; the top-left corner does not
    expect(Math.abs(c1.y - c0.y)).toBeLessThanOrEqual(1);
    // pan by a drag, then the same image point is at the centre of B's pane and of the swipe view
    const box = (await page.getByTestId('viewport').first().boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width / 2 + 40, box.y + box.height / 2 + 25, { steps: 4 });
    await page.mouse.up();
    const panned = await pixelAt(page, 0);
    expect(panned.x).toBeLessThan(c1.x); // dragged right: the view shows what lies left of it
    expect(await pixelAt(page, 1)).toEqual(panned);
    await page.getByTestId('view-swipe').click();
    const swiped = await pixelAt(page, 0);
    expect(Math.abs(swiped.x - panned.x)).toBeLessThanOrEqual(1);
    expect(Math.abs(swiped.y - panned.y)).toBeLessThanOrEqual(1);
    await page.getByTestId('view-side-by-side').click();

    // the values are the PNGs' own, and the difference is B − A
    const m = entries(s.workspace).at(-1)!;
    const [a, b] = [readPng(join(s.workspace, 'runs', m.id, m.compare!.images.a!)), readPng(join(s.workspace, 'runs', m.id, m.compare!.images.b!))];
    const p = await pixelAt(page, 0, 0.3, 0.6);
    const rgb = (img: typeof a): number[] => [0, 1, 2].map((c) => Math.round(img.data[(p.y * img.width + p.x) * 3 + c]! * 255));
    const nums = async (id: string): Promise<number[]> => (await page.getByTestId(id).textContent())!.trim().split(/[\s\u2007]+/).map(Number);
    expect(await nums('inspect-a')).toEqual(rgb(a));
    expect(await nums('inspect-b')).toEqual(rgb(b));
    expect(await nums('inspect-diff')).toEqual(rgb(b).map((v, i) => v - rgb(a)[i]!));
    expect(await page.getByTestId('inspect-mark').count()).toBe(2);
    await s.shot('05-zoomed-inspector-1024x700');
    await page.getByRole('button', { name: 'fit' }).click();
  }, 120_000);

  it('says steps as set, with PNDM\'s extra UNet call explained, in the latency table', async () => {
    await page.getByTestId('tab-latency').click();
    expect(await page.getByTestId('latency').locator('tbody tr').first().locator('td').nth(5).textContent()).toMatch(/^4 · \d\/5$/);
    expect(await page.getByTestId('steps-note').first().textContent()).toBe('4 steps made 5 UNet calls: PNDM takes its first step twice, the warm-up of its multistep method.');
    await s.shot('06-latency-steps-1024x700');
    await page.getByTestId('tab-compare').click();
  });

  it('labels a side that fell back to the CPU with what ran: panes, captions, history, report', async () => {
    const select = page.getByTestId('provider-B');
    const off = await select.locator('option', { hasText: 'unavailable' }).first().getAttribute('value').catch(() => null);
    if (!off) return console.warn('verdict e2e: every provider is available here; the fallback case needs one that is not');
    await page.getByTestId('tab-variant-B').click();
    await select.selectOption(off);
    expect(await page.getByTestId('unavailable-B').textContent()).toContain('Turn on CPU fallback');
    await page.getByTestId('variant-B').locator('label.toggle', { hasText: 'CPU fallback' }).click();
    expect(await page.getByTestId('unavailable-B').textContent()).toContain('It will run on the CPU');
    await setRange(page.getByLabel('Repeats per variant'), 1);
    await runAB(page);
    const fell = `(fell back to cpu)`;
    await expect.poll(() => page.locator('.pane-label').nth(1).textContent(), { timeout: 10_000 }).toContain(fell);
    expect(await page.locator('.captions p').nth(1).textContent()).toContain(`ran on cpu (fell back from ${off})`);
    await s.shot('07-fell-back-1024x700');
    await page.getByTestId('tab-history').click();
    await expect.poll(() => page.getByTestId('history-item').first().locator('b').first().textContent()).toContain(fell);
    await page.getByTestId('tab-compare').click();
    await page.getByTestId('export').click();
    const m = entries(s.workspace).at(-1)!;
    const report = join(s.workspace, 'runs', m.id, 'report.html');
    await expect.poll(() => existsSync(report), { timeout: 10_000 }).toBe(true);
    expect(readFileSync(report, 'utf8')).toContain(`B: DeepCache ${fell}`);
    await select.selectOption('cpu');
  }, 180_000);

  it('renders the About box\'s licences as markdown', async () => {
    await page.getByRole('button', { name: 'About' }).click();
    const lic = page.getByRole('dialog').locator('.licenses');
    await lic.locator('table').first().waitFor({ timeout: 10_000 });
    expect(await lic.locator('h1').first().textContent()).toContain('Licences');
    expect(await lic.textContent()).not.toContain('| --- |');
    for (const [w, h] of SIZES) {
      await page.setViewportSize({ width: w, height: h });
      await s.shot(`08-about-${w}x${h}`);
    }
    await page.getByRole('dialog').getByRole('button', { name: 'Close' }).click();
    await page.setViewportSize({ width: 1024, height: 700 });
    expect(s.pageErrors).toEqual([]);
  });
});
