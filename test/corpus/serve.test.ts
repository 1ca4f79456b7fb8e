/**
 * The host side of the hostile-input corpus (issue 11): WebSocket traffic as raw frames, serve-mode
 * HTTP requests, and workspace faults, each with the outcome it must produce. Every input is
 * generated here (support/), and after every case the server must still answer.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseRequest, type Handlers } from '../../app/channels';
import { LIMITS } from '../../app/limits';
import { Dispatcher } from '../../main/host/dispatcher';
import { createHandlers } from '../../main/host/handlers';
import { HistoryStore } from '../../main/host/history';
import { forkEngine } from '../../main/host/spawn-fork';
import { StudioHost } from '../../main/host/studio-host';
import { startWebServer, type WebServer } from '../../main/host/transports/websocket';
import { FIXTURE_MODEL } from '../parity/reference';
import { call, frame, OP, rawHttp, rawSocket, text, type RawSocket } from './support/raw-socket';
import { entryFolder, manifest, mkfifo, mountReadOnly, unmount } from './support/workspace';

const ROOT = join(__dirname, '../..');
const TOKEN = 'corpus-token-0123456789abcdef';
const SIGNAL = new AbortController().signal;
let web: WebServer;
let host: StudioHost;
let handlers: Handlers;
let workspace: string;
let outside: string;
/** An error nobody handled would end a real server; in this test process it is caught and must not occur. */
const uncaught: string[] = [];
process.on('uncaughtException', (e) => uncaught.push(`${e.name}: ${e.message}`));
const serverLives = async (): Promise<void> => {
  expect(uncaught.splice(0), 'no uncaught error in the server').toEqual([]);
  expect(await get(`/?token=${TOKEN}`), 'the server still answers').toBe(200);
};
const origin = (): string => `http://127.0.0.1:${web.port}`;
const wsHeaders = (): Record<string, string> => ({ Origin: origin() });
const open = (): Promise<RawSocket> => rawSocket(web.port, `/ws?token=${TOKEN}`, wsHeaders());

function get(path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${origin()}${path}`, { headers, method }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('error', reject);
    req.end();
  });
}

/** A socket closed by the server: its close code, after the bytes were sent. */
async function closedWith(...frames: Buffer[]): Promise<number | undefined> {
  const s = await open();
  for (const f of frames) s.socket.write(f);
  await s.closed;
  return s.closeCode;
}

beforeAll(async () => {
  workspace = mkdtempSync(join(tmpdir(), 'corpus-ws-'));
  outside = mkdtempSync(join(tmpdir(), 'corpus-outside-'));
  host = new StudioHost({
    workspace, mode: 'serve', version: 'corpus', spawnEngine: forkEngine(), // the engine is never started here
    models: { embedded: join(workspace, 'none'), fixture: FIXTURE_MODEL },
  });
  handlers = createHandlers(host);
  const staticDir = mkdtempSync(join(tmpdir(), 'corpus-static-'));
  writeFileSync(join(staticDir, 'index.html'), '<!doctype html><title>studio</title>');
  web = await startWebServer({
    host: '127.0.0.1', port: 0, token: TOKEN, staticDir, dispatcher: new Dispatcher(handlers, (l) => host.onEvent(l)),
    limits: { headersMs: 400, requestMs: 800, timeoutCheckMs: 100 },
  });
});
afterAll(async () => {
  await web.close();
  await host.close();
});

describe('corpus: WebSocket frames (the socket closes with the code RFC 6455 names; the server lives)', () => {
  afterEach(serverLives);

  const protocolErrors: [string, () => Buffer[], number][] = [
    ['an unmasked text frame: 1002', () => [text(call(1, 'jobs.list'), { mask: false })], 1002],
    ['invalid UTF-8 in a text frame: 1007', () => [text(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]))], 1007],
    ['reserved data opcode 0x3: 1002', () => [frame({ opcode: 0x3, payload: 'x' })], 1002],
    ['reserved control opcode 0xB: 1002', () => [frame({ opcode: 0xb })], 1002],
    ['RSV1 set with no extension agreed: 1002', () => [text('{}', { rsv1: true })], 1002],
    ['a message over the size limit (only its header sent): 1009', () => [frame({ opcode: OP.text, declaredLength: LIMITS.messageBytes + 1, payload: 'x' })], 1009],
    ['a continuation frame with nothing to continue: 1002', () => [frame({ opcode: OP.continuation, payload: 'x' })], 1002],
    ['a control frame with a 126-byte payload: 1002', () => [frame({ opcode: OP.ping, payload: Buffer.alloc(126) })], 1002],
    ['a fragmented ping: 1002', () => [frame({ opcode: OP.ping, fin: false })], 1002],
    ['a close frame with the invalid code 999: 1002', () => { const b = Buffer.alloc(2); b.writeUInt16BE(999); return [frame({ opcode: OP.close, payload: b })]; }, 1002],
    ['a new text frame inside a fragmented message: 1002', () => [text('{"type":', { fin: false }), text('"call"}')], 1002],
  ];
  it.each(protocolErrors)('%s', async (_name, frames, code) => {
    expect(await closedWith(...frames())).toBe(code);
  });

  it('a binary frame: an error reply saying so, then close 1003 (not silence)', async () => {
    const s = await open();
    s.socket.write(frame({ opcode: OP.binary, payload: Buffer.from([1, 2, 3]) }));
    expect(await s.nextMessage()).toMatchObject({ type: 'error', id: -1, error: { message: expect.stringMatching(/binary frames are not accepted/) } });
    expect(await s.closeFrame).toBe(1003);
    s.socket.destroy();
  });

  it('a message in three fragments is reassembled and answered', async () => {
    const s = await open();
    const msg = call(7, 'jobs.list');
    s.socket.write(Buffer.concat([text(msg.slice(0, 5), { fin: false }), frame({ opcode: OP.continuation, fin: false, payload: msg.slice(5, 20) }), frame({ opcode: OP.continuation, payload: msg.slice(20) })]));
    expect(await s.nextMessage()).toEqual({ type: 'result', id: 7, value: [] });
    s.socket.destroy();
  });

  it('a ping between fragments is answered with a pong, and the message still is', async () => {
    const s = await open();
    const msg = call(8, 'jobs.list');
    s.socket.write(Buffer.concat([text(msg.slice(0, 9), { fin: false }), frame({ opcode: OP.ping, payload: 'p' }), frame({ opcode: OP.continuation, payload: msg.slice(9) })]));
    expect(await s.nextMessage()).toEqual({ type: 'result', id: 8, value: [] });
    expect(s.pongs).toBe(1);
    s.socket.destroy();
  });

  const badMessages: [string, string, RegExp][] = [
    ['text that is not JSON', 'hello', /malformed message/],
    ['a JSON array', '[1,2,3]', /malformed message/],
    ['JSON null', 'null', /malformed message/],
    ['a call without a command', '{"type":"call","id":3}', /malformed message/],
    ['a negative call id', '{"type":"call","id":-4,"command":"jobs.list","arg":{}}', /malformed message/],
    ['an unknown command', call(5, 'fs.readFile', { path: '/etc/passwd' }), /unknown command "fs\.readFile"/],
    ['"__proto__" as the command', call(6, '__proto__'), /unknown command "__proto__"/],
    ['"constructor" as the command', call(9, 'constructor'), /unknown command "constructor"/],
    ['an argument that fails its schema', call(10, 'history.get', { id: '../../etc' }), /history\.get: invalid request: id/],
    ['an argument with extra keys', call(11, 'jobs.list', { extra: 1 }), /jobs\.list: invalid request/],
  ];
  it.each(badMessages)('%s: an error reply (%s)', async (_name, body, message) => {
    const s = await open();
    s.socket.write(text(body));
    const reply = await s.nextMessage() as { type: string; error: Record<string, unknown> };
    expect(reply.type).toBe('error');
    expect(reply.error.message).toMatch(message);
    expect(Object.keys(reply.error).sort()).toEqual(['message', 'name']);
    s.socket.destroy();
  });

  it('a cancel of an id never called: no reply, the socket keeps working', async () => {
    const s = await open();
    s.socket.write(Buffer.concat([text('{"type":"cancel","id":99}'), text(call(12, 'jobs.list'))]));
    expect(await s.nextMessage()).toEqual({ type: 'result', id: 12, value: [] });
    s.socket.destroy();
  });

  it('a flood of requests: the excess is refused as too many, the socket stays open', async () => {
    const s = await open();
    const n = LIMITS.requestBurst + 60;
    s.socket.write(Buffer.concat(Array.from({ length: n }, (_, i) => text(call(100 + i, 'jobs.list')))));
    const replies = await Promise.all(Array.from({ length: n }, () => s.nextMessage(10_000))) as { type: string; error?: { message: string } }[];
    const refused = replies.filter((r) => r.type === 'error');
    expect(refused.length).toBeGreaterThanOrEqual(50);
    expect(refused[0]!.error!.message).toMatch(/too many requests: at most 50 per second/);
    expect(replies.filter((r) => r.type === 'result').length).toBeGreaterThanOrEqual(LIMITS.requestBurst);
    s.socket.destroy();
  });

  it('errors leave as {name, message}: no stack, no path of the server\'s own files', async () => {
    const s = await open();
    s.socket.write(text(call(13, 'models.add', { path: join(ROOT, 'package.json') })));
    const reply = await s.nextMessage() as { error: { name: string; message: string } };
    expect(Object.keys(reply.error).sort()).toEqual(['message', 'name']);
    expect(reply.error.message).toContain('<studio>/package.json');
    expect(reply.error.message).not.toContain(ROOT);
    s.socket.destroy();
  });

  it('a TCP reset in the middle of a frame ends that socket only', async () => {
    const s = await open();
    s.socket.write(text(call(14, 'jobs.list')).subarray(0, 5));
    s.socket.resetAndDestroy();
    await s.closed;
  });

  it('30 upgrades without a token, each reset before the 401 is read: the server lives', async () => {
    await Promise.all(Array.from({ length: 30 }, () => new Promise<void>((resolve) => {
      const sock = connect(web.port, '127.0.0.1', () => {
        sock.write(`GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${web.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\nSec-WebSocket-Version: 13\r\nOrigin: ${origin()}\r\n\r\n`);
        setImmediate(() => sock.resetAndDestroy());
      });
      sock.on('error', () => undefined);
      sock.on('close', () => resolve());
    })));
  });
});

describe('corpus: serve-mode HTTP requests', () => {
  afterEach(serverLives);
  const statuses: [string, () => Promise<number>, number][] = [
    ['no token: 401', () => get('/'), 401],
    ['a wrong token of the right length: 401', () => get(`/?token=${'x'.repeat(TOKEN.length)}`), 401],
    ['a token cookie that is wrong: 401', () => get('/', { cookie: 'studio_token=nope' }), 401],
    ['another site\'s Origin: 403', () => get(`/?token=${TOKEN}`, { origin: 'http://evil.example' }), 403],
    ['a rebinding Host: 403', () => get(`/?token=${TOKEN}`, { host: 'evil.example' }), 403],
    ['a traversal with %2e%2e: 404', () => get(`/%2e%2e/package.json?token=${TOKEN}`), 404],
    ['a traversal with an encoded slash: 404', () => get(`/assets/..%2f..%2fpackage.json?token=${TOKEN}`), 404],
    ['an encoded NUL: 404', () => get(`/%00?token=${TOKEN}`), 404],
    ['a dot-file: 404', () => get(`/.env?token=${TOKEN}`), 404],
    ['a POST: 405', () => get(`/?token=${TOKEN}`, {}, 'POST'), 405],
    ['an upgrade to another path: 404', async () => rawSocket(web.port, `/other?token=${TOKEN}`, wsHeaders()).then(() => 101, (e: Error) => Number(e.message.split(' ')[1])), 404],
    ['an upgrade without Origin: 403', async () => rawSocket(web.port, `/ws?token=${TOKEN}`, {}).then(() => 101, (e: Error) => Number(e.message.split(' ')[1])), 403],
    ['an upgrade with a wrong token: 401', async () => rawSocket(web.port, '/ws?token=nope', wsHeaders()).then(() => 101, (e: Error) => Number(e.message.split(' ')[1])), 401],
  ];
  it.each(statuses)('%s', async (_name, send, status) => {
    expect(await send()).toBe(status);
  });

  const raw: [string, string, RegExp][] = [
    ['a request target no URL parser takes: 404, not a crash', `GET http://[x HTTP/1.1\r\nHost: 127.0.0.1:PORT\r\nConnection: close\r\nCookie: studio_token=${TOKEN}\r\n\r\n`, /^HTTP\/1\.1 404/],
    ['a garbage request line: 400', 'HELLO\r\n\r\n', /^HTTP\/1\.1 400/],
    ['Content-Length and Transfer-Encoding together (smuggling): 400', `GET / HTTP/1.1\r\nHost: 127.0.0.1:PORT\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, /^HTTP\/1\.1 400/],
    ['headers of 20 KB: 431', `GET / HTTP/1.1\r\nHost: 127.0.0.1:PORT\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, /^HTTP\/1\.1 431/],
  ];
  it.each(raw)('%s', async (_name, bytes, reply) => {
    const r = await rawHttp(web.port, bytes.replaceAll('PORT', String(web.port)), 3000);
    expect(r.reply).toMatch(reply);
  });

  it('headers sent slowly are cut off after the header timeout (408 and close)', async () => {
    const t0 = Date.now();
    const r = await new Promise<{ reply: string }>((resolve) => {
      const sock = connect(web.port, '127.0.0.1');
      let reply = '';
      sock.on('error', () => undefined);
      sock.on('data', (d) => (reply += d));
      const drip = setInterval(() => sock.writable && sock.write('X-Slow: 1\r\n'), 100);
      sock.write(`GET /?token=${TOKEN} HTTP/1.1\r\nHost: 127.0.0.1:${web.port}\r\n`);
      sock.on('close', () => {
        clearInterval(drip);
        resolve({ reply });
      });
    });
    expect(r.reply).toMatch(/^HTTP\/1\.1 408/);
    expect(Date.now() - t0).toBeLessThan(3000);
  });

  it('40 slow-header clients at once are all dropped within seconds', async () => {
    const results = await Promise.all(Array.from({ length: 40 }, () => rawHttp(web.port, `GET / HTTP/1.1\r\nHost: 127.0.0.1:${web.port}\r\n`, 6000)));
    for (const r of results) expect(r.closedAfterMs).toBeLessThan(4000);
  });
});

describe('corpus: workspace faults (nothing outside the workspace is read or written)', () => {
  const runs = (): string => join(workspace, 'runs');
  let warnings: string[] = [];
  const warn = console.warn;
  beforeAll(() => {
    console.warn = (m: string) => warnings.push(m);
  });
  afterEach(() => {
    warnings = [];
  });
  afterAll(() => {
    console.warn = warn;
  });
  const listed = async (): Promise<string[]> => (await handlers['history.list']({}, SIGNAL)).map((e) => e.id);

  it('an entry folder that is a symlink out of the workspace: not listed, its files refused', async () => {
    entryFolder(join(outside, 'linked'), manifest('linked-0001', { thumb: 'thumb.png' }), { 'a.png': 'secret', 'thumb.png': 'secret' });
    symlinkSync(join(outside, 'linked'), join(runs(), 'linked-0001'));
    expect(await listed()).not.toContain('linked-0001');
    await expect(handlers['history.file']({ id: 'linked-0001', file: 'a.png' }, SIGNAL)).rejects.toThrow(/linked-0001\/a\.png lies outside the workspace/);
    await expect(handlers['history.get']({ id: 'linked-0001' }, SIGNAL)).rejects.toThrow(/no entry linked-0001/);
  });

  it('a thumbnail that is a symlink out: the entry is listed without it', async () => {
    writeFileSync(join(outside, 'secret.png'), 'secret');
    entryFolder(join(runs(), 'thumbo-0002'), manifest('thumbo-0002', { thumb: 'thumb.png' }));
    symlinkSync(join(outside, 'secret.png'), join(runs(), 'thumbo-0002', 'thumb.png'));
    const e = (await handlers['history.list']({}, SIGNAL)).find((x) => x.id === 'thumbo-0002');
    expect(e).toBeDefined();
    expect(e!.thumb).toBeUndefined();
    expect(warnings.join('\n')).toMatch(/no thumbnail for thumbo-0002: .*outside the workspace/);
  });

  it('an image that is a symlink out: history.file refuses it', async () => {
    entryFolder(join(runs(), 'imglnk-0003'), manifest('imglnk-0003'));
    symlinkSync(join(outside, 'secret.png'), join(runs(), 'imglnk-0003', 'a.png'));
    await expect(handlers['history.file']({ id: 'imglnk-0003', file: 'a.png' }, SIGNAL)).rejects.toThrow(/outside the workspace/);
  });

  it('report.html that is a symlink out: export refuses to write through it, the target is untouched', async () => {
    writeFileSync(join(outside, 'report.html'), 'original');
    entryFolder(join(runs(), 'report-0004'), manifest('report-0004'));
    symlinkSync(join(outside, 'report.html'), join(runs(), 'report-0004', 'report.html'));
    await expect(handlers['history.export']({ id: 'report-0004' }, SIGNAL)).rejects.toThrow(/report\.html lies outside the workspace/);
    expect(readFileSync(join(outside, 'report.html'), 'utf8')).toBe('original');
  });

  it('runs/ itself a symlink out of the workspace: nothing listed, nothing created there', () => {
    const ws2 = mkdtempSync(join(tmpdir(), 'corpus-ws2-'));
    const elsewhere = mkdtempSync(join(tmpdir(), 'corpus-elsewhere-'));
    entryFolder(join(elsewhere, 'aaaaaa-0005'), manifest('aaaaaa-0005'));
    symlinkSync(elsewhere, join(ws2, 'runs'));
    const h = new HistoryStore(ws2).open();
    expect(h.list()).toEqual([]);
    expect(() => h.create(manifest('bbbbbb-0006'))).toThrow(/outside the workspace/);
    expect(existsSync(join(elsewhere, 'bbbbbb-0006', 'manifest.json'))).toBe(false);
  });

  it('a manifest whose id differs from its folder: not listed under the foreign id, with a warning', async () => {
    entryFolder(join(runs(), 'folder-0007'), manifest('foreign-0008'));
    const ids = await listed();
    expect(ids).not.toContain('foreign-0008');
    expect(ids).not.toContain('folder-0007');
    expect(warnings.join('\n')).toMatch(/skipping runs\/folder-0007\/manifest\.json: its manifest names another entry \("foreign-0008"\)/);
  });

  it('a new entry reusing a finished entry\'s id is refused; the old one is untouched', () => {
    host.history.create(manifest('finish-0009', { status: 'done' }));
    expect(() => host.history.create(manifest('finish-0009', { status: 'queued' }))).toThrow(/an entry "finish-0009" already exists/);
    expect(host.history.get('finish-0009').status).toBe('done');
  });

  it('jobs.compare with the id of an existing entry: refused before anything is queued', async () => {
    const req = { jobId: 'finish-0009', model: FIXTURE_MODEL, params: { prompt: 'x', seed: 1, steps: 2, width: 64, height: 64 }, a: {}, b: {} };
    // as the dispatcher hands it over: parsed, defaults filled in
    await expect(handlers['jobs.compare'](parseRequest('jobs.compare', req), SIGNAL)).rejects.toThrow(/already exists: every job needs a new id/);
    expect(host.queue.list()).toEqual([]);
    expect(host.history.get('finish-0009').status).toBe('done');
  });

  it('a thumbnail that is a named pipe: the listing returns at once, without it', async () => {
    entryFolder(join(runs(), 'pipeth-0010'), manifest('pipeth-0010', { thumb: 'thumb.png' }));
    mkfifo(join(runs(), 'pipeth-0010', 'thumb.png'));
    const e = (await handlers['history.list']({}, SIGNAL)).find((x) => x.id === 'pipeth-0010');
    expect(e!.thumb).toBeUndefined();
    expect(warnings.join('\n')).toMatch(/thumb\.png: is a named pipe \(FIFO\), not a regular file/);
  });

  it('an image that is a named pipe: history.file says it is not a regular file', async () => {
    entryFolder(join(runs(), 'pipeim-0011'), manifest('pipeim-0011'));
    mkfifo(join(runs(), 'pipeim-0011', 'a.png'));
    await expect(handlers['history.file']({ id: 'pipeim-0011', file: 'a.png' }, SIGNAL)).rejects.toThrow(/pipeim-0011\/a\.png: is a named pipe \(FIFO\), not a regular file/);
  });

  it('a manifest that is a named pipe: skipped, the listing does not block', async () => {
    mkdirSync(join(runs(), 'pipemf-0012'));
    mkfifo(join(runs(), 'pipemf-0012', 'manifest.json'));
    expect(await listed()).not.toContain('pipemf-0012');
  });

  describe('read-only runs/ (a read-only bind mount; skipped where mounting is not allowed)', () => {
    const ro = mkdtempSync(join(tmpdir(), 'corpus-ro-'));
    let mounted: ReturnType<typeof mountReadOnly> = { ok: false, why: 'not tried' };
    beforeAll(() => {
      entryFolder(join(ro, 'runs', 'runnin-0013'), manifest('runnin-0013', { status: 'running' }));
      mounted = mountReadOnly(join(ro, 'runs'));
      if (!mounted.ok) console.log(`skipping the read-only cases: mount failed (${mounted.why})`);
    });
    afterAll(() => unmount(join(ro, 'runs')));

    it('an entry left running is reported interrupted even though it cannot be rewritten', (ctx) => {
      if (!mounted.ok) return ctx.skip();
      const h = new HistoryStore(ro).open();
      expect(h.get('runnin-0013').status).toBe('interrupted');
      expect(warnings.join('\n')).toMatch(/runnin-0013 is interrupted but the workspace is read-only/);
    });

    it('creating an entry says "the workspace is read-only: <runs>", not ENOENT or EROFS', (ctx) => {
      if (!mounted.ok) return ctx.skip();
      const h = new HistoryStore(ro).open();
      expect(() => h.create(manifest('create-0014'))).toThrow(`the workspace is read-only: ${join(ro, 'runs')}`);
    });
  });
});
