import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Handlers, ToClient } from '../../app/channels';
import { Dispatcher } from '../../main/host/dispatcher';
import { startWebServer, type WebServer } from '../../main/host/transports/websocket';
import { FIXTURE_MODEL } from '../parity/reference';

const ROOT = join(__dirname, '../..');
const TOKEN = 'test-token-0123456789abcdef';
let web: WebServer;
let base: string;

function get(path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { headers }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Opens a socket and resolves with the HTTP status it was refused with, or 101 and the socket. */
function socket(query: string, origin?: string): Promise<{ status: number; ws?: WebSocket }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${base.replace('http', 'ws')}/ws${query}`, { headers: origin ? { origin } : {} });
    ws.on('open', () => resolve({ status: 101, ws }));
    ws.on('unexpected-response', (_req, res) => resolve({ status: res.statusCode! }));
    ws.on('error', () => undefined);
  });
}

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'studio-web-'));
  mkdirSync(join(dir, 'assets'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>studio</title>');
  writeFileSync(join(dir, 'assets', 'app.js'), 'console.log(1)');
  writeFileSync(join(dir, '.secret.js'), 'no');
  const handlers = { 'studio.info': async () => ({ mode: 'serve', workspace: '/w', version: '1', engine: { state: 'ready', restarts: 0 } }) } as unknown as Handlers;
  web = await startWebServer({ host: '127.0.0.1', port: 0, token: TOKEN, staticDir: dir, dispatcher: new Dispatcher(handlers, () => () => {}) });
  base = `http://127.0.0.1:${web.port}`;
});
afterAll(() => web.close());

describe('serve mode: HTTP', () => {
  it('prints a loopback URL carrying a token of at least 16 characters', () => {
    expect(web.url).toBe(`http://127.0.0.1:${web.port}/?token=${TOKEN}`);
  });

  it('refuses every request without the right token (401)', async () => {
    for (const path of ['/', '/index.html', '/assets/app.js', `/?token=wrong-${TOKEN.slice(6)}`, '/?token=']) {
      expect((await get(path)).status, path).toBe(401);
    }
  });

  it('serves the renderer with the token, a strict CSP and a cookie for what the page loads next', async () => {
    const r = await get(`/?token=${TOKEN}`);
    expect(r.status).toBe(200);
    expect(r.body).toContain('<title>studio</title>');
    expect(r.headers['content-security-policy']).toMatch(/default-src 'none'; script-src 'self'; .*connect-src 'self' ws:\/\/127\.0\.0\.1:\d+/);
    expect(String(r.headers['set-cookie'])).toMatch(/studio_token=.*HttpOnly; SameSite=Strict/);
    expect((await get('/assets/app.js', { cookie: `studio_token=${TOKEN}` })).status).toBe(200);
  });

  it('checks Origin and Host (no cross-site pages, no DNS rebinding): 403', async () => {
    expect((await get(`/?token=${TOKEN}`, { origin: 'http://evil.example' })).status).toBe(403);
    expect((await get(`/?token=${TOKEN}`, { host: `evil.example:${web.port}` })).status).toBe(403);
    expect((await get(`/?token=${TOKEN}`, { host: `localhost:${web.port}` })).status).toBe(200);
  });

  it('reads nothing outside the renderer folder', async () => {
    for (const path of ['/../package.json', '/%2e%2e/package.json', '/assets/%2e%2e/%2e%2e/package.json', '/.secret.js', '/assets/..%2f..%2fpackage.json', '/%00']) {
      expect((await get(`${path}${path.includes('?') ? '&' : '?'}token=${TOKEN}`)).status, path).toBe(404);
    }
  });
});

describe('serve mode: WebSocket', () => {
  const origin = () => `http://127.0.0.1:${web.port}`;
  it('refuses a socket without the token (401) or from another origin (403)', async () => {
    expect((await socket('', origin())).status).toBe(401);
    expect((await socket(`?token=${TOKEN}`, 'http://evil.example')).status).toBe(403);
    expect((await socket(`?token=${TOKEN}`)).status).toBe(403);
  });

  it('carries the channel table once admitted', async () => {
    const { status, ws } = await socket(`?token=${TOKEN}`, origin());
    expect(status).toBe(101);
    const reply = new Promise<ToClient>((resolve) => ws!.once('message', (d) => resolve(JSON.parse(String(d)))));
    ws!.send(JSON.stringify({ type: 'call', id: 1, command: 'studio.info', arg: {} }));
    expect(await reply).toMatchObject({ type: 'result', id: 1, value: { mode: 'serve' } });
    ws!.close();
  });
});

describe('serve mode: the process', () => {
  it('stops cleanly on SIGTERM mid-run: exit 0, the job saved as cancelled', async () => {
    const workspace = mkdtempSync(join(tmpdir(), 'studio-serve-'));
    const child = spawn(process.execPath, ['--import', 'tsx', 'main/host/serve.ts', '--port', '0', '--workspace', workspace, '--no-build'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', () => undefined);
    const url = await new Promise<string>((resolve, reject) => {
      const t = setInterval(() => {
        const m = out.match(/open (http:\/\/127\.0\.0\.1:(\d+)\/\?token=([\w-]{16,}))/);
        if (m) {
          clearInterval(t);
          resolve(m[1]!);
        }
      }, 100);
      child.once('exit', (code) => reject(new Error(`serve exited ${code}: ${out}`)));
    });
    const u = new URL(url);
    const ws = new WebSocket(`ws://${u.host}/ws${u.search}`, { headers: { origin: `http://${u.host}` } });
    await new Promise((r) => ws.once('open', r));
    const stepSeen = new Promise<void>((resolve) => ws.on('message', (d) => {
      const m = JSON.parse(String(d)) as ToClient;
      if (m.type === 'event' && m.event === 'job.progress') resolve();
    }));
    const jobId = 'sigterm-0001';
    ws.send(JSON.stringify({ type: 'call', id: 1, command: 'jobs.compare', arg: {
      jobId, model: FIXTURE_MODEL, params: { prompt: 'x', seed: 1, steps: 500, width: 64, height: 64 }, a: {}, b: {}, repeats: 1,
    } }));
    await stepSeen;
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((r) => child.once('exit', r));
    expect(code).toBe(0);
    const m = JSON.parse(readFileSync(join(workspace, 'runs', jobId, 'manifest.json'), 'utf8'));
    expect(m.status).toBe('cancelled');
  }, 60_000);
});
