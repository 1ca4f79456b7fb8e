/**
 * The e2e harness: serve mode on a fresh workspace and Debian's Chromium, one of each per test file.
 * (test/e2e/studio.test.ts predates it and keeps its own copy.)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { ensureRenderer } from '../../../main/host/build-renderer';

export const ROOT = join(__dirname, '../../..');
export const CHROMIUM = '/usr/bin/chromium';
/** Skip (with a message) without Chromium, except in CI where the test must run. */
export const skipE2e = !existsSync(CHROMIUM) && !process.env.CI;
if (skipE2e) console.warn(`e2e skipped: ${CHROMIUM} is missing (apt-get install -y chromium). In CI (CI set) this test runs and fails instead.`);

export interface Studio {
  url: string;
  workspace: string;
  page: Page;
  pageErrors: string[];
  shot(name: string): Promise<void>;
  close(): Promise<void>;
}

/** Starts serve mode (`serveArgs` appended) and opens the studio in Chromium; screenshots go to test-output/<topic>/. */
export async function openStudio(topic: string, opts: { viewport?: { width: number; height: number }; serveArgs?: string[] } = {}): Promise<Studio> {
  const shots = join(ROOT, 'test-output', topic);
  mkdirSync(shots, { recursive: true });
  await ensureRenderer(ROOT);
  const workspace = mkdtempSync(join(tmpdir(), `studio-${topic}-`));
  const server: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'main/host/serve.ts', '--port', '0', '--workspace', workspace, '--no-build', ...(opts.serveArgs ?? [])], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  server.stdout!.on('data', (d) => (out += d));
  server.stderr!.on('data', () => undefined);
  const url = await new Promise<string>((resolve, reject) => {
    const t = setInterval(() => {
      const m = out.match(/open (http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]{16,})/);
      if (m) {
        clearInterval(t);
        resolve(m[1]!);
      }
    }, 100);
    server.once('exit', (code) => {
      clearInterval(t);
      reject(new Error(`serve exited with ${code}: ${out}`));
    });
  });
  let browser: BrowserContext;
  try {
    browser = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'chromium-')), {
      executablePath: CHROMIUM, headless: true, viewport: opts.viewport ?? { width: 1440, height: 900 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  } catch (e) {
    server.kill('SIGTERM');
    throw e;
  }
  const page = browser.pages()[0] ?? (await browser.newPage());
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  return {
    url, workspace, page, pageErrors,
    shot: async (name) => void (await page.screenshot({ path: join(shots, `${name}.png`) })),
    close: async () => {
      await browser.close();
      if (server.exitCode === null) {
        server.kill('SIGTERM');
        await new Promise((r) => server.once('exit', r));
      }
    },
  };
}

/** React reads range inputs through the native setter and an input event. */
export async function setRange(input: Locator, value: number): Promise<void> {
  await input.evaluate((el, v) => {
    Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value')!.set!.call(el, String(v));
    el.dispatchEvent(new Event('input', { bubbles: true }));
  }, value);
}

/** Loads the studio and waits for the model list. */
export async function ready(page: Page, url: string): Promise<void> {
  await page.goto(url);
  for (let i = 0; i < 300 && !(await page.getByTestId('model-select').locator('option').count()); i++) await page.waitForTimeout(100);
}

/** Presses Run A / B and waits for the job to end with `status`. */
export async function runAB(page: Page, status = 'done', timeout = 180_000): Promise<void> {
  await page.getByTestId('run').click();
  await page.waitForFunction((s) => document.querySelector('[data-testid=job-status]')?.textContent?.startsWith(s), status, { timeout, polling: 250 });
}
