import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { ensureRenderer } from '../../../main/host/build-renderer';

export const ROOT = join(__dirname, '../../..');
export const CHROMIUM = '/usr/bin/chromium';
/** Without Chromium an e2e file skips itself, except in CI (CI set), where it must run. */
export const runE2e = existsSync(CHROMIUM) || !!process.env.CI;

export interface Studio {
  url: string;
  workspace: string;
  page: Page;
  pageErrors: string[];
  shot(name: string): Promise<Buffer>;
  close(): Promise<void>;
}

/** Serve mode on a fresh workspace and Debian's Chromium on it; screenshots under test-output/<topic>/. */
export async function startStudio(topic: string): Promise<Studio> {
  const shots = join(ROOT, 'test-output', topic);
  mkdirSync(shots, { recursive: true });
  await ensureRenderer(ROOT);
  const workspace = mkdtempSync(join(tmpdir(), `studio-${topic}-`));
  const server: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'main/host/serve.ts', '--port', '0', '--workspace', workspace, '--no-build'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
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
  const browser: BrowserContext = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'chromium-')), {
    executablePath: CHROMIUM, headless: true, viewport: { width: 1440, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = browser.pages()[0] ?? (await browser.newPage());
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  return {
    url, workspace, page, pageErrors,
    shot: (name) => page.screenshot({ path: join(shots, `${name}.png`) }),
    async close() {
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
