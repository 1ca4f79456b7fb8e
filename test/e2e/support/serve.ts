/** The e2e harness: serve mode on a fresh workspace and Debian's Chromium on it (playwright-core). */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Locator, type Page } from 'playwright-core';

export const ROOT = join(__dirname, '../../..');
export const CHROMIUM = '/usr/bin/chromium';
export const haveChromium = existsSync(CHROMIUM);
/** Skip (with a message) without Chromium, except in CI where the test must run (and fail). */
export const skipE2e = !haveChromium && !process.env.CI;
if (skipE2e) console.warn(`e2e skipped: ${CHROMIUM} is missing (apt-get install -y chromium). In CI (CI set) this test runs and fails instead.`);

/** Serve mode on a fresh workspace (`--no-build`: test/support/global-setup.ts built the renderer); resolves with its tokened URL. */
export async function startServe(serveArgs: string[] = [], prefix = 'studio-e2e-'): Promise<{ server: ChildProcess; url: string; workspace: string }> {
  const workspace = mkdtempSync(join(tmpdir(), prefix));
  const server = spawn(process.execPath, ['--import', 'tsx', 'main/host/serve.ts', '--port', '0', '--workspace', workspace, '--no-build', ...serveArgs], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
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
    server.once('exit', (code) => reject(new Error(`serve exited with ${code}: ${out}`)));
  });
  return { server, url, workspace };
}

export function launchChromium(viewport = { width: 1440, height: 900 }): Promise<BrowserContext> {
  return chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'chromium-')), {
    executablePath: CHROMIUM, headless: true, viewport,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

export async function stopServe(server: ChildProcess | undefined): Promise<void> {
  if (!server || server.exitCode !== null) return;
  server.kill('SIGTERM');
  await new Promise((r) => server.once('exit', r));
}

export interface Studio {
  server: ChildProcess;
  url: string;
  workspace: string;
  browser: BrowserContext;
  page: Page;
  pageErrors: string[];
  close(): Promise<void>;
}

/** Serve mode and Chromium started side by side (each waits mostly on its own start-up); neither is left running if one fails. */
export async function serveAndBrowser(serveArgs: string[] = [], prefix?: string, viewport?: { width: number; height: number }): Promise<{ server: ChildProcess; url: string; workspace: string; browser: BrowserContext }> {
  const [served, launched] = await Promise.allSettled([startServe(serveArgs, prefix), launchChromium(viewport)]);
  if (served.status === 'fulfilled' && launched.status === 'fulfilled') return { ...served.value, browser: launched.value };
  if (served.status === 'fulfilled') await stopServe(served.value.server);
  if (launched.status === 'fulfilled') await launched.value.close().catch(() => undefined);
  throw served.status === 'rejected' ? served.reason : (launched as PromiseRejectedResult).reason;
}

/** Serve mode and a browser page on it, closed together. */
export async function startStudio(viewport = { width: 1440, height: 900 }): Promise<Studio> {
  const { server, url, workspace, browser } = await serveAndBrowser([], undefined, viewport);
  const page = browser.pages()[0] ?? (await browser.newPage());
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  return {
    server, url, workspace, browser, page, pageErrors,
    close: async () => {
      await browser.close().catch(() => undefined);
      await stopServe(server);
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
