/**
 * History titles, search, filters, Load into editors and Fork; the stale-baseline guard; the
 * per-step scrubber; PNG info in. Chromium against serve mode on the embedded model, 128 px, few steps.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodePng } from '../../engine/index';
import { runAndWait, setRange, skipE2e, openStudio, type Studio } from './support/studio';

let studio: Studio;

describe.skipIf(skipE2e)('history, stale baseline, scrubber, PNG info (Chromium, serve mode)', () => {
  beforeAll(async () => {
    studio = await openStudio('history');
  }, 240_000);
  afterAll(() => studio?.close());

  it('A is reused only while nothing it depends on changed; the window says which happened', async () => {
    const { page } = studio;
    await page.goto(studio.url);
    await expect.poll(() => page.getByTestId('model-select').locator('option').count(), { timeout: 30_000 }).toBeGreaterThan(0);
    await page.getByTestId('prompt').fill('red heart, twemoji style');
    await setRange(page.getByTestId('steps'), 4);
    await setRange(page.getByLabel('Repeats per variant'), 1);
    await page.locator('label.toggle', { hasText: 'Reuse A' }).click();
    expect(await page.getByTestId('reuse-a').isChecked()).toBe(true);
    await page.getByTestId('tab-variant-B').click();
    await setRange(page.getByTestId('deepcache-interval-B'), 3);

    const first = await runAndWait(studio);
    await expect.poll(() => page.getByTestId('baseline-note').textContent()).toBe('A run: no earlier run to reuse');

    await setRange(page.getByTestId('deepcache-interval-B'), 2); // only B changed
    const second = await runAndWait(studio);
    await expect.poll(() => page.getByTestId('baseline-note').textContent()).toBe(`A reused from run ${first.id}`);
    expect(second.compare!.runs.map((r) => r.side)).toEqual(['A', 'B']);
    expect(second.compare!.runs[0]).toEqual(first.compare!.runs[0]);
    const png = (m: typeof first, f: string) => readFileSync(join(studio.workspace, 'runs', m.id, f));
    expect(png(second, 'a.png').equals(png(first, 'a.png'))).toBe(true);

    await setRange(page.getByTestId('steps'), 5); // A depends on it
    const third = await runAndWait(studio);
    await expect.poll(() => page.getByTestId('baseline-note').textContent()).toBe('A re-run: the parameters changed (steps)');
    expect(third.compare!.baseline).toEqual({ message: 'A re-run: the parameters changed (steps)' });
    await studio.shotSizes('01-baseline-note');
    expect(studio.pageErrors).toEqual([]);
  }, 600_000);

  it('the Steps view scrubs both sides step by step with B\'s drift from A and its full steps marked', async () => {
    const { page } = studio;
    await page.getByTestId('tab-compare').click();
    await page.getByTestId('view-steps').click();
    await page.getByTestId('scrubber').waitFor({ timeout: 10_000 });
    const m = studio.entries().at(-1)!;
    const t = JSON.parse(readFileSync(join(studio.workspace, 'runs', m.id, 'steps.json'), 'utf8')) as { steps: number; drift: number[]; fullSteps: { B: number[] } };
    expect(await page.getByTestId('scrub-step').getAttribute('max')).toBe(String(t.steps - 1));
    expect(await page.getByTestId('drift-full').count()).toBe(t.fullSteps.B.length);
    expect(await page.getByTestId('drift-cached').count()).toBe(t.steps - t.fullSteps.B.length);
    await setRange(page.getByTestId('scrub-step'), 0);
    await expect.poll(() => page.getByTestId('scrub-readout').textContent()).toMatch(/^step 1\/\d+ · drift .* 0\.0000 · B ran the full UNet/);
    const last = t.steps - 1;
    await setRange(page.getByTestId('scrub-step'), last);
    await expect.poll(() => page.getByTestId('scrub-drift').textContent()).toBe(t.drift[last]!.toFixed(4));
    expect(t.drift[last]!).toBeGreaterThan(0);
    const frame = (side: string) => page.getByTestId(`scrub-${side}`).evaluate((i: HTMLImageElement) => i.complete && i.naturalWidth);
    await expect.poll(() => frame('A')).toBeGreaterThan(0);
    await expect.poll(() => frame('B')).toBeGreaterThan(0);
    const cached = t.drift.findIndex((_, i) => !t.fullSteps.B.includes(i));
    await setRange(page.getByTestId('scrub-step'), cached);
    await expect.poll(() => page.getByTestId('scrub-readout').textContent()).toContain('B used the cache');
    await studio.shotSizes('02-scrubber');
    expect(studio.pageErrors).toEqual([]);
  }, 120_000);

  it('History titles, search, filters; Load into editors and Fork bring an entry back', async () => {
    const { page } = studio;
    const [first] = studio.entries();
    await page.getByTestId('tab-history').click();
    const titles = () => page.getByTestId('history-title').allTextContents();
    await expect.poll(async () => (await titles()).sort()).toEqual(['DeepCache N=2 branch 0 uniform vs baseline', 'DeepCache N=2 branch 0 uniform vs baseline', 'DeepCache N=3 branch 0 uniform vs baseline']);
    expect(await page.getByTestId('history-item').count()).toBe(3);
    await page.getByTestId('history-search').fill('n=3 heart');
    await expect.poll(() => page.getByTestId('history-item').count()).toBe(1);
    expect(await page.getByTestId('history-count').textContent()).toBe('1 of 3');
    await studio.shotSizes('03-history-search');
    await page.getByTestId('history-search').fill('');
    await page.getByTestId('history-kind').selectOption('sweep');
    await expect.poll(() => page.getByTestId('history-none').count()).toBe(1);
    await page.getByTestId('history-kind').selectOption('');
    const model = first!.model.name;
    await page.getByTestId('history-model').selectOption(model);
    await expect.poll(() => page.getByTestId('history-item').count()).toBe(3);
    await page.getByTestId('history-model').selectOption('');

    // change the editors, then load the first entry back
    await page.getByTestId('prompt').fill('something else');
    await setRange(page.getByTestId('steps'), 9);
    const item = page.getByTestId('history-item').filter({ has: page.locator(`text=“red heart, twemoji style”`) }).last();
    await item.getByTestId('history-load').click();
    await expect.poll(() => page.getByTestId('prompt').inputValue()).toBe('red heart, twemoji style');
    expect(await page.getByTestId('history-loaded').textContent()).toBe('Loaded “DeepCache N=3 branch 0 uniform vs baseline” into the editors');
    expect(await page.getByTestId('steps').inputValue()).toBe('4');
    await page.getByTestId('tab-variant-B').click();
    expect(await page.getByTestId('deepcache-interval-B').inputValue()).toBe('3');
    expect(await page.getByTestId('fork-of').count()).toBe(0);

    // fork it: the next run names it as its parent, and (same key as the first two) reuses A
    await item.getByTestId('history-fork').click();
    await expect.poll(() => page.getByTestId('fork-of').textContent()).toContain('Fork of “DeepCache N=3 branch 0 uniform vs baseline”');
    await studio.shotSizes('04-history-forked');
    const forked = await runAndWait(studio);
    expect(forked.parent).toBe(first!.id);
    expect(forked.compare!.baseline!.reusedFrom).toMatch(/./);
    expect(studio.pageErrors).toEqual([]);
  }, 300_000);

  it('PNG info in: the studio\'s own a.png and an A1111 PNG fill the inputs; what is not loaded is listed', async () => {
    const { page } = studio;
    const m = studio.entries().find((e) => e.params.steps === 5)!;
    await page.getByTestId('prompt').fill('to be replaced');
    await setRange(page.getByTestId('steps'), 11);
    await page.getByTestId('png-info-file').setInputFiles({ name: 'a.png', mimeType: 'image/png', buffer: readFileSync(join(studio.workspace, 'runs', m.id, 'a.png')) });
    await expect.poll(() => page.getByTestId('prompt').inputValue()).toBe('red heart, twemoji style');
    expect(await page.getByTestId('steps').inputValue()).toBe('5');
    expect(await page.getByTestId('seed').inputValue()).toBe(String(m.params.seed));
    const other = await page.getByTestId('png-info-other').locator('dt').allTextContents();
    expect(other).toEqual(['Model hash', 'Model', 'Provider', 'Variant']);

    const a1111 = 'a lighthouse at dusk\nNegative prompt: blurry\nSteps: 7, Sampler: DDIM, CFG scale: 4.5, Seed: 31337, Size: 96x64, Model hash: 6ce0161689, Clip skip: 2';
    const png = Buffer.from(encodePng({ width: 2, height: 2, data: new Uint8Array(12) }, { parameters: a1111 }));
    await page.getByTestId('png-info-file').setInputFiles({ name: 'a1111.png', mimeType: 'image/png', buffer: png });
    await expect.poll(() => page.getByTestId('prompt').inputValue()).toBe('a lighthouse at dusk');
    expect(await page.getByTestId('negative-prompt').inputValue()).toBe('blurry');
    expect(await page.getByTestId('steps').inputValue()).toBe('7');
    expect(await page.getByTestId('seed').inputValue()).toBe('31337');
    expect(await page.getByLabel('width').inputValue()).toBe('96');
    expect(await page.getByLabel('height').inputValue()).toBe('64');
    expect(await page.getByLabel('scheduler').inputValue()).toBe('ddim');
    expect(await page.getByTestId('png-info-other').locator('dt').allTextContents()).toEqual(['Model hash', 'Clip skip']);
    await studio.shotSizes('05-png-info');

    // a PNG without infotext: a clear notice, inputs untouched
    await page.getByTestId('png-info-file').setInputFiles({ name: 'plain.png', mimeType: 'image/png', buffer: Buffer.from(encodePng({ width: 1, height: 1, data: new Uint8Array(3) })) });
    await expect.poll(() => page.locator('.notices').textContent()).toContain('plain.png: no "parameters" text chunk');
    expect(await page.getByTestId('prompt').inputValue()).toBe('a lighthouse at dusk');
    expect(studio.pageErrors).toEqual([]);
  }, 120_000);
});
