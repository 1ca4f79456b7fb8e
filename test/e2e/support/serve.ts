/**
 * The e2e harness: serve mode on a fresh workspace and Debian's Chromium on it (playwright-core).
 * Same settings as test/e2e/studio.test.ts's own setup (which predates this file).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { ensureRenderer } from '../../../main/host/build-renderer';

export const ROOT = join(__dirname, '../../..');
export const CHROMIUM = '/usr/bin/chromium';
export const haveChromium = existsSync(CHROMIUM);

export interface Studio {
  server: ChildProcess;
  url: string;
  workspace: string;
  browser: BrowserContext;
  page: Page;
  pageErrors: string[];
  close(): Promise<void>;
}

export async function startStudio(viewport = { width: 1440, height: 900 }): Promise<Studio> {
  await ensureRenderer(ROOT);
  const workspace = mkdtempSync(join(tmpdir(), 'studio-e2e-'));
  const server = spawn(process.execPath, ['--import', 'tsx', 'main/host/serve.ts', '--port', '0', '--workspace', workspace, '--no-build'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
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
  const browser = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'chromium-')), {
    executablePath: CHROMIUM, headless: true, viewport,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = browser.pages()[0] ?? (await browser.newPage());
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  return {
    server, url, workspace, browser, page, pageErrors,
    close: async () => {
      await browser.close().catch(() => undefined);
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
