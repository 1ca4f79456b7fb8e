/**
 * The studio holds from a 1024x700 laptop window to 2560x1440: in every tab and compare view,
 * each control and figure lies in the viewport or a scrollable region, uncovered and not cut
 * (support/layout-check.ts). Screenshots: test-output/layout/.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { layoutProblems } from './support/layout-check';
import { openStudio, ready, runAB, setRange, skipE2e, type Studio } from './support/studio';

const SIZES = [[1024, 700], [1440, 900], [1920, 1080], [2560, 1440]] as const;

describe.skipIf(skipE2e)('layout from 1024x700 to 2560x1440', () => {
  let s: Studio;
  beforeAll(async () => {
    s = await openStudio('layout', { viewport: { width: 1024, height: 700 } });
    await ready(s.page, s.url);
  }, 240_000);
  afterAll(async () => s?.close());

  it('keeps Run A / B in view at 1024x700 without scrolling, before any run', async () => {
    const { page } = s;
    const run = await page.getByTestId('run').boundingBox();
    expect(run).not.toBeNull();
    expect(run!.y + run!.height).toBeLessThanOrEqual(700);
    expect(await layoutProblems(page)).toEqual([]);
    await s.shot('00-empty-1024x700');
  });

  it('every control and figure is reachable, uncovered and whole in every tab at each size', async () => {
    const { page } = s;
    await page.getByTestId('prompt').fill('grinning face');
    await setRange(page.getByTestId('steps'), 4);
    await setRange(page.getByLabel('Repeats per variant'), 2);
    await runAB(page);
    await page.getByTestId('reading').waitFor({ timeout: 15_000 });
    const found: string[] = [];
    const check = async (state: string, root?: string): Promise<void> => {
      await page.waitForTimeout(100);
      for (const p of await layoutProblems(page, root)) found.push(`${state}: ${p.what}: ${p.why}`);
    };
    for (const [w, h] of SIZES) {
      await page.setViewportSize({ width: w, height: h });
      const at = `${w}x${h}`;
      await page.getByTestId('tab-compare').click();
      // every view at the extremes, side by side between (keeps the test short on 2 cores)
      for (const view of w === 1024 || w === 2560 ? ['side-by-side', 'swipe', 'blink', 'difference', 'ssim'] : ['side-by-side']) {
        await page.getByTestId(`view-${view}`).click();
        await check(`${at} compare ${view}`);
      }
      await page.getByTestId('view-side-by-side').click();
      await page.getByTestId('thresholds').locator('summary').click();
      await check(`${at} compare thresholds open`);
      await s.shot(`compare-${at}`);
      await page.getByTestId('thresholds').locator('summary').click();
      await page.getByTestId('tab-variant-A').click();
      await check(`${at} variant A`);
      await page.getByTestId('tab-variant-B').click();
      for (const tab of ['latency', 'sweep', 'history']) {
        await page.getByTestId(`tab-${tab}`).click();
        await check(`${at} ${tab}`);
        await s.shot(`${tab}-${at}`);
      }
      await page.getByRole('button', { name: 'About' }).click();
      await check(`${at} about`, '.modal');
      await s.shot(`about-${at}`);
      await page.getByRole('dialog').getByRole('button', { name: 'Close' }).click();
    }
    // an unavailable provider picked (for CPU fallback): its select and note still fit at 1024x700
    await page.setViewportSize({ width: 1024, height: 700 });
    await page.getByTestId('tab-compare').click();
    const off = await page.getByTestId('provider-B').locator('option', { hasText: 'unavailable' }).last().getAttribute('value').catch(() => null);
    if (off) {
      await page.getByTestId('provider-B').selectOption(off);
      await check(`1024x700 B on unavailable ${off}`);
      await s.shot('variant-unavailable-1024x700');
      await page.getByTestId('provider-B').selectOption('cpu');
    }
    expect(found).toEqual([]);
    expect(s.pageErrors).toEqual([]);
  }, 300_000);
});
