/**
 * Blind A/B session: prompts × seeds made by the host's job queue, sides hidden and shuffled,
 * keyboard votes saved in the workspace, the preference rate with its Wilson interval, exports.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blindStats, preferred, wilson } from '../../app/blind';
import { setRange, skipE2e, openStudio, type Studio } from './support/studio';

let studio: Studio;

describe.skipIf(skipE2e)('blind A/B session (Chromium, serve mode)', () => {
  beforeAll(async () => {
    studio = await openStudio('history');
  }, 240_000);
  afterAll(() => studio?.close());

  it('makes the pairs, takes keyboard votes with sides hidden, reports the preference with a Wilson interval, exports CSV and JSON', async () => {
    const { page } = studio;
    await page.goto(studio.url);
    await expect.poll(() => page.getByTestId('model-select').locator('option').count(), { timeout: 30_000 }).toBeGreaterThan(0);
    await setRange(page.getByTestId('steps'), 3);
    await page.getByTestId('tab-blind').click();
    await page.getByTestId('blind-prompts').fill('');
    await expect.poll(() => page.getByTestId('blind-problem').textContent()).toBe('give at least one prompt');
    await page.getByTestId('blind-prompts').fill('red heart, twemoji style\ngrinning face, twemoji style');
    await page.getByTestId('blind-seeds').fill('7, x');
    await expect.poll(() => page.getByTestId('blind-problem').textContent()).toBe('seeds must be whole numbers ≥ 0 (got "7, x")');
    await page.getByTestId('blind-seeds').fill('7');
    expect(await page.getByTestId('blind-start').textContent()).toBe('Make 2 pairs');
    await studio.shotSizes('06-blind-setup');
    await page.getByTestId('blind-start').click();
    await page.getByTestId('blind-vote').waitFor({ timeout: 180_000 });
    expect(await page.getByTestId('blind-progress').textContent()).toBe('Pair 1 of 2');
    // the Run panel shows no step previews for a blind job (they would tell the sides apart)
    expect(await page.getByTestId('blind-no-previews').isVisible()).toBe(true);
    expect(await page.getByTestId('preview-A').count()).toBe(0);
    const shown = (side: string) => page.getByTestId(`blind-${side}`).evaluate((i: HTMLImageElement) => i.complete && i.naturalWidth);
    await expect.poll(() => shown('left'), { timeout: 10_000 }).toBeGreaterThan(0);
    await expect.poll(() => shown('right')).toBeGreaterThan(0);
    await studio.shotSizes('07-blind-vote');
    // nothing on screen names a side before the votes are in
    expect(await page.getByTestId('blind-vote').textContent()).not.toMatch(/\bA\b|\bB\b|baseline|DeepCache/);

    await page.waitForTimeout(300);
    await page.keyboard.press('1'); // left better
    await expect.poll(() => page.getByTestId('blind-progress').textContent()).toBe('Pair 2 of 2');
    await expect.poll(() => shown('right'), { timeout: 10_000 }).toBeGreaterThan(0);
    await page.keyboard.press('ArrowRight'); // right better
    await page.getByTestId('blind-results').waitFor({ timeout: 10_000 });

    const m = studio.entries('blind')[0]!;
    const pairs = m.blind!.pairs;
    expect(pairs.map((p) => p.vote)).toEqual(['left', 'right']);
    expect(pairs[0]!.ms).toBeGreaterThan(250); // the wait before the first key
    expect(pairs[1]!.ms).toBeGreaterThan(0);
    const st = blindStats(pairs, 0.95);
    const b = pairs.filter((p) => preferred(p) === 'B').length;
    const [lo, hi] = wilson(b, 2);
    const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
    expect(await page.getByTestId('blind-rate').textContent()).toBe(`B (DeepCache) preferred in ${pct(b / 2)} of 2 decided pairs (95 % Wilson interval ${pct(lo)} – ${pct(hi)})`);
    expect(await page.getByTestId('blind-counts').textContent()).toBe(`A better ${2 - b} · B better ${b} · same 0 · can't tell 0 · 2/2 voted`);
    expect(await page.getByTestId('blind-agreement').textContent()).toContain(pct(st.agreement!));
    await studio.shotSizes('08-blind-results');

    const [csvDl] = await Promise.all([page.waitForEvent('download'), page.getByTestId('blind-csv').click()]);
    const csv = readFileSync((await csvDl.path())!, 'utf8').split('\r\n');
    expect(csv[0]).toBe('pair,prompt,seed,config_a,config_b,shown_left,vote,preferred,time_to_vote_ms,voted_at,ssim');
    expect(csv[1]).toMatch(new RegExp(`^1,red heart\\, twemoji style|^1,"red heart, twemoji style",7,.*,${pairs[0]!.left},left,${preferred(pairs[0]!)},\\d+,`));
    const [jsonDl] = await Promise.all([page.waitForEvent('download'), page.getByTestId('blind-json').click()]);
    const json = JSON.parse(readFileSync((await jsonDl.path())!, 'utf8')) as { pairs: { shown_left: string; vote: string; seed: number }[]; b: { label: string } };
    expect(json.pairs.map((p) => [p.seed, p.shown_left, p.vote])).toEqual(pairs.map((p) => [7, p.left, p.vote]));
    expect(json.b.label).toBe('DeepCache');

    // the session is in History, titled, and reopens on its results
    await page.getByTestId('tab-history').click();
    await expect.poll(() => page.getByTestId('history-title').first().textContent()).toBe('Blind A/B: DeepCache N=3 branch 0 uniform vs baseline, 2 pairs');
    expect(studio.pageErrors).toEqual([]);
  }, 300_000);
});
