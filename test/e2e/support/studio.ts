/**
 * The e2e harness: serve mode on a fresh workspace and Debian's Chromium (playwright-core) on it.
 * One server and one browser per test file (the suite runs on 2 cores).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Locator, type Page } from 'playwright-core';
import type { HistoryManifest } from '../../../app/studio';
import { ensureRenderer } from '../../../main/host/build-renderer';

export const ROOT = join(__dirname, '../../..');
export const CHROMIUM = '/usr/bin/chromium';
/** Skip without Chromium, except in CI where the test must run (and fail). */
export const skipE2e = !existsSync(CHROMIUM) && !process.env.CI;

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
    shot: async (name) => {
      await page.screenshot({ path: join(shots, `${name}.png`) });
    },
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
