/**
 * The e2e harness for the studio's views: serve mode on a fresh workspace and Debian's Chromium (./serve.ts),
 * one of each per test file, screenshots under test-output/<topic>/.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HistoryManifest } from '../../../app/studio';
import type { Locator, Page } from 'playwright-core';
import { CHROMIUM, ROOT, serveAndBrowser, skipE2e, stopServe } from './serve';

export { CHROMIUM, ROOT, skipE2e };

export interface Studio {
  url: string;
  workspace: string;
  page: Page;
  pageErrors: string[];
  shot(name: string): Promise<void>;
  /** The same screenshot at 1024x700 and 1920x1080 (name-WxH.png), then back to 1440x900. */
  shotSizes(name: string): Promise<void>;
  /** The workspace's manifests of one kind, oldest first (done ones unless `all`). */
  entries(kind?: HistoryManifest['kind'], all?: boolean): HistoryManifest[];
  close(): Promise<void>;
}

/** Starts serve mode (`serveArgs` appended) and opens the studio in Chromium; screenshots go to test-output/<topic>/. */
export async function openStudio(topic: string, opts: { viewport?: { width: number; height: number }; serveArgs?: string[] } = {}): Promise<Studio> {
  const shots = join(ROOT, 'test-output', topic);
  mkdirSync(shots, { recursive: true });
  const { server, url, workspace, browser } = await serveAndBrowser(opts.serveArgs, `studio-${topic}-`, opts.viewport);
  const page = browser.pages()[0] ?? (await browser.newPage());
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  return {
    url, workspace, page, pageErrors,
    shot: async (name) => void (await page.screenshot({ path: join(shots, `${name}.png`) })),
    shotSizes: async (name) => {
      for (const [width, height] of [[1024, 700], [1920, 1080]] as const) {
        await page.setViewportSize({ width, height });
        await page.waitForTimeout(250);
        await page.screenshot({ path: join(shots, `${name}-${width}x${height}.png`) });
      }
      await page.setViewportSize({ width: 1440, height: 900 });
    },
    // a folder just created has no manifest yet (the host writes it next)
    entries: (kind = 'compare', all = false) => readdirSync(join(workspace, 'runs')).filter((d) => !d.startsWith('.') && existsSync(join(workspace, 'runs', d, 'manifest.json')))
      .map((d) => JSON.parse(readFileSync(join(workspace, 'runs', d, 'manifest.json'), 'utf8')) as HistoryManifest)
      .filter((m) => m.kind === kind && (all || m.status === 'done')).sort((a, b) => a.createdAt.localeCompare(b.createdAt)),
    close: async () => {
      await browser.close().catch(() => undefined);
      await stopServe(server);
    },
  };
}

export { setRange } from './serve';

/** Loads the studio and waits for the model list. */
export async function ready(page: Page, url: string): Promise<void> {
  await page.goto(url);
  for (let i = 0; i < 300 && !(await page.getByTestId('model-select').locator('option').count()); i++) await page.waitForTimeout(100);
}

/** Presses Run A / B and waits for the job to end with `status`. */
export async function runAB(page: Page, status = 'done', timeout = 180_000): Promise<void> {
  const before = (await page.locator('[data-job]').count()) ? await page.locator('[data-job]').getAttribute('data-job') : null;
  await page.getByTestId('run').click();
  // a new job (its id differs from the last one's), ended with `status`
  await page.waitForFunction(([s, prev]) => {
    const p = document.querySelector('[data-job]');
    return !!p && p.getAttribute('data-job') !== prev && !!p.querySelector('[data-testid=job-status]')?.textContent?.startsWith(s!);
  }, [status, before] as const, { timeout, polling: 250 });
}

/** Runs A / B and waits until one more compare entry is done and the window says so. */
export async function runAndWait(studio: Studio, timeout = 180_000): Promise<HistoryManifest> {
  const before = studio.entries().length;
  await studio.page.getByTestId('run').click();
  const t0 = Date.now();
  while (studio.entries().length === before) {
    if (Date.now() - t0 > timeout) throw new Error(`runAndWait: no new compare entry after ${timeout} ms`);
    await new Promise((r) => setTimeout(r, 300));
  }
  await studio.page.waitForFunction(() => document.querySelector('[data-testid=job-status]')?.textContent === 'done', undefined, { timeout: 20_000, polling: 200 });
  return studio.entries().at(-1)!;
}
