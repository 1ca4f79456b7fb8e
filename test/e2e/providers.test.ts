/**
 * The variant editor's provider choice in Chromium: a software WebGPU adapter is labelled as one,
 * and an unavailable CUDA provider shows setup:gpu's problems and its command. Screenshots at
 * 1024x700 and 1920x1080 go to test-output/providers/.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, ROOT, skipE2e, startServe, stopServe } from './support/serve';

const SHOTS = join(ROOT, 'test-output', 'providers');

let server: ChildProcess | undefined;
let browser: BrowserContext;
let page: Page;

describe.skipIf(skipE2e)('provider choice in the variant editor', () => {
  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    const s = await startServe();
    server = s.server;
    browser = await launchChromium();
    page = browser.pages()[0] ?? (await browser.newPage());
    await page.goto(s.url);
  }, 240_000);
  afterAll(async () => {
    await browser?.close();
    await stopServe(server);
  });

  it('labels the adapter, and says what CUDA lacks and the command that fixes it', async () => {
    await page.getByTestId('tab-variant-A').click();
    const select = page.getByTestId('provider-A');
    await expect.poll(() => select.locator('option').count(), { timeout: 60_000 }).toBe(6);
    // the probe answers after the engine host starts: wait for the labels to arrive
    await expect.poll(() => select.locator('option[value="cuda"]').textContent(), { timeout: 90_000 }).toMatch(/unavailable/);
    const webgpu = (await select.locator('option[value="webgpu"]').textContent())!;
    if (!webgpu.includes('unavailable')) {
      expect(webgpu).toMatch(/^webgpu — (software adapter|adapter) |^webgpu \(adapter not identified\)$/);
      if (webgpu.includes('software adapter')) {
        await select.selectOption('webgpu');
        await expect.poll(() => page.getByTestId('adapter-A').textContent()).toMatch(/^software adapter \S+: a CPU, not a GPU$/);
      }
    }
    await page.getByTestId('variant-A').locator('details.unavailable > summary').click();
    const cuda = page.getByTestId('provider-status-cuda');
    await expect.poll(() => cuda.textContent()).toContain('fix: npm run setup:gpu');
    await cuda.locator('details summary').click();
    expect(await cuda.locator('ul.problems li').count()).toBeGreaterThan(0);
    for (const [w, h] of [[1024, 700], [1920, 1080]] as const) {
      await page.setViewportSize({ width: w, height: h });
      await page.getByTestId('variant-A').scrollIntoViewIfNeeded();
      await page.screenshot({ path: join(SHOTS, `providers-${w}x${h}.png`) });
    }
  }, 200_000);
});
