import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { runInNewContext } from 'node:vm';
import { buildSync } from 'esbuild';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Handlers, StudioBridge, ToClient } from '../../app/channels';
import { Dispatcher } from '../../main/host/dispatcher';
import type { ElectronMain, IpcMainEvent, PreventableEvent, WebContents } from '../../main/electron/electron-api';
import { LIMITS } from '../../app/limits';
import { IPC_CHANNEL } from '../../main/electron/ipc-channel';
import { registerIpcTransport } from '../../main/electron/ipc-transport';
import { lockDown } from '../../main/electron/window';

/** Just enough of Electron to drive the main-process code without the binary. */
function fakeElectron() {
  const on: Record<string, ((...a: never[]) => void)[]> = {};
  const ipc: ((e: IpcMainEvent, ...a: unknown[]) => void)[] = [];
  let protocolHandler: ((r: Request) => Response | Promise<Response>) | undefined;
  let beforeRequest: ((d: { url: string }, cb: (r: { cancel?: boolean }) => void) => void) | undefined;
  let permission: ((wc: WebContents, p: string, cb: (g: boolean) => void) => void) | undefined;
  const electron = {
    app: { on: (event: string, l: (...a: never[]) => void) => (on[event] ??= []).push(l) },
    ipcMain: { on: (_c: string, l: (e: IpcMainEvent, ...a: unknown[]) => void) => ipc.push(l) },
    protocol: { handle: (_s: string, h: typeof protocolHandler) => (protocolHandler = h) },
    session: {
      defaultSession: {
        setPermissionRequestHandler: (h: typeof permission) => (permission = h),
        setPermissionCheckHandler: () => undefined,
        webRequest: { onBeforeRequest: (l: typeof beforeRequest) => (beforeRequest = l) },
      },
    },
  } as unknown as ElectronMain;
  return { electron, on, ipc, protocol: () => protocolHandler!, beforeRequest: () => beforeRequest!, permission: () => permission! };
}

function fakeContents(id = 1) {
  const handlers: Record<string, ((e: PreventableEvent, url: string) => void)[]> = {};
  const sent: unknown[] = [];
  let openHandler: ((d: { url: string }) => { action: string }) | undefined;
  const wc = {
    id, isDestroyed: () => false, send: (_c: string, m: unknown) => sent.push(m),
    once: (event: string, l: () => void) => ((handlers[event] ??= []).push(l), wc),
    setWindowOpenHandler: (h: typeof openHandler) => (openHandler = h),
    on: (event: string, l: (e: PreventableEvent, url: string) => void) => ((handlers[event] ??= []).push(l), wc),
  } as unknown as WebContents;
  const navigate = (event: string, url: string): boolean => {
    let prevented = false;
    for (const h of handlers[event] ?? []) h({ preventDefault: () => (prevented = true) }, url);
    return prevented;
  };
  const destroy = (): void => {
    for (const h of handlers.destroyed ?? []) (h as () => void)();
  };
  return { wc, sent, navigate, destroy, open: (url: string) => openHandler!({ url }) };
}

describe('Electron main process (with a stand-in for Electron)', () => {
  it('serves only the built renderer over app://studio, with the CSP', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'studio-app-'));
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), '<title>x</title>');
    const f = fakeElectron();
    lockDown(f.electron, dir);
    const ok = await f.protocol()(new Request('app://studio/index.html'));
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-security-policy')).toMatch(/^default-src 'none'; script-src 'self'/);
    for (const bad of ['app://studio/../package.json', 'app://studio/%2e%2e/%2e%2e/etc/passwd', 'app://other/index.html']) {
      expect((await f.protocol()(new Request(bad))).status, bad).toBe(404);
    }
  });

  it('loads no remote content, denies permissions, new windows and navigation away', () => {
    const f = fakeElectron();
    lockDown(f.electron, '/nowhere');
    const verdict = (url: string) => {
      let cancel: boolean | undefined;
      f.beforeRequest()({ url }, (r) => (cancel = r.cancel));
      return cancel;
    };
    expect(verdict('app://studio/assets/index.js')).toBe(false);
    expect(verdict('data:image/png;base64,AAAA')).toBe(false);
    expect(verdict('https://example.com/x.js')).toBe(true);
    expect(verdict('file:///etc/passwd')).toBe(true);
    let granted: boolean | undefined;
    f.permission()({} as WebContents, 'media', (g) => (granted = g));
    expect(granted).toBe(false);
    const c = fakeContents();
    for (const l of f.on['web-contents-created']!) (l as (e: unknown, wc: WebContents) => void)({}, c.wc);
    expect(c.open('https://example.com')).toEqual({ action: 'deny' });
    expect(c.navigate('will-navigate', 'https://example.com')).toBe(true);
    expect(c.navigate('will-redirect', 'file:///etc/passwd')).toBe(true);
    expect(c.navigate('will-navigate', 'app://studio/index.html')).toBe(false);
  });

  it('the IPC transport answers our own frames and drops messages from any other', async () => {
    const f = fakeElectron();
    const handlers = { 'jobs.list': async () => [] } as unknown as Handlers;
    registerIpcTransport(f.electron, new Dispatcher(handlers, () => () => {}));
    const c = fakeContents(7);
    const send = (url: string, msg: unknown) => f.ipc[0]!({ sender: c.wc, senderFrame: { url } } as IpcMainEvent, msg);
    const err = console.error;
    console.error = () => {};
    send('https://evil.example/', { type: 'call', id: 1, command: 'jobs.list', arg: {} });
    console.error = err;
    send('app://studio/index.html', { type: 'call', id: 2, command: 'jobs.list', arg: {} });
    await new Promise((r) => setTimeout(r, 10));
    expect(c.sent).toEqual([{ type: 'result', id: 2, value: [] } satisfies ToClient]);
    expect(IPC_CHANNEL).toBe('studio:wire');
  });
});

describe('the IPC transport with malformed messages (each answered or dropped; nothing throws)', () => {
  function wire() {
    const f = fakeElectron();
    let subscribers = 0;
    const handlers = { 'jobs.list': async () => [], 'history.get': async () => { throw new Error('unreachable: the schema refuses first'); } } as unknown as Handlers;
    registerIpcTransport(f.electron, new Dispatcher(handlers, () => (subscribers++, () => subscribers--)));
    const c = fakeContents(3);
    const send = (msg: unknown, url: string | null = 'app://studio/index.html') => f.ipc[0]!({ sender: c.wc, senderFrame: url === null ? null : { url } } as IpcMainEvent, msg);
    return { c, send, subscribers: () => subscribers };
  }
  const settle = () => new Promise((r) => setTimeout(r, 10));

  const malformed: [string, unknown, RegExp][] = [
    ['undefined', undefined, /malformed message/],
    ['a string', 'call jobs.list', /malformed message/],
    ['a number', 42, /malformed message/],
    ['null', null, /malformed message/],
    ['an array', [{ type: 'call', id: 1, command: 'jobs.list', arg: {} }], /malformed message/],
    ['an unknown type', { type: 'exec', id: 1 }, /malformed message/],
    ['a fractional id', { type: 'call', id: 1.5, command: 'jobs.list', arg: {} }, /malformed message/],
    ['a command that is not a string', { type: 'call', id: 2, command: { toString: 1 }, arg: {} }, /malformed message/],
    ['an unknown command', { type: 'call', id: 3, command: 'shell.openExternal', arg: {} }, /unknown command "shell\.openExternal"/],
    ['"hasOwnProperty" as the command', { type: 'call', id: 4, command: 'hasOwnProperty', arg: {} }, /unknown command "hasOwnProperty"/],
    ['an argument of the wrong shape', { type: 'call', id: 5, command: 'history.get', arg: { id: 7 } }, /history\.get: invalid request: id/],
    ['a traversal as an id', { type: 'call', id: 6, command: 'history.get', arg: { id: '../../../etc' } }, /history\.get: invalid request: id/],
    ['a message over the size limit', { type: 'call', id: 7, command: 'jobs.list', arg: { pad: 'x'.repeat(LIMITS.messageBytes) } }, /over the limit of \d+/],
  ];
  it.each(malformed)('%s: an error reply naming what is wrong', async (_name, msg, message) => {
    const { c, send } = wire();
    expect(() => send(msg)).not.toThrow();
    await settle();
    expect(c.sent).toHaveLength(1);
    const reply = c.sent[0] as { type: string; error: Record<string, unknown> };
    expect(reply.type).toBe('error');
    expect(reply.error.message).toMatch(message);
    expect(Object.keys(reply.error).sort()).toEqual(['message', 'name']);
  });

  it('frames not on app://studio are dropped without a reply: none, null, look-alike origins', async () => {
    const { c, send } = wire();
    const err = console.error;
    const logged: string[] = [];
    console.error = (m: string) => logged.push(m);
    for (const url of [null, '', 'app://studio', 'app://studio.evil/x', 'file:///index.html', 'https://studio/']) send({ type: 'call', id: 1, command: 'jobs.list', arg: {} }, url);
    console.error = err;
    await settle();
    expect(c.sent).toEqual([]);
    expect(logged).toHaveLength(6);
  });

  it('a window that goes away closes its connection (no events sent to it afterwards)', async () => {
    const { c, send, subscribers } = wire();
    send({ type: 'call', id: 1, command: 'jobs.list', arg: {} });
    expect(subscribers()).toBe(1);
    c.destroy();
    expect(subscribers()).toBe(0);
  });
});

describe('the preload (bundled as for Electron, run with a stand-in for its require)', () => {
  const code = buildSync({ entryPoints: [join(__dirname, '../../main/electron/preload.ts')], bundle: true, format: 'cjs', platform: 'node', write: false, external: ['electron'] }).outputFiles[0]!.text;
  function load() {
    let exposed: Record<string, unknown> = {};
    const sent: unknown[] = [];
    let deliver: (e: unknown, m: unknown) => void = () => {};
    const electron = {
      contextBridge: { exposeInMainWorld: (k: string, v: unknown) => (exposed = { ...exposed, [k]: v }) },
      ipcRenderer: { send: (_c: string, m: unknown) => sent.push(m), on: (_c: string, l: typeof deliver) => (deliver = l) },
    };
    const module = { exports: {} };
    runInNewContext(code, { require: (id: string) => (id === 'electron' ? electron : undefined), module, exports: module.exports, console });
    return { exposed, sent, deliver: (m: unknown) => deliver({}, m) };
  }

  it('exposes window.studio only', () => {
    expect(Object.keys(load().exposed)).toEqual(['studio']);
  });

  it('refuses unknown commands and malformed arguments before they reach IPC', () => {
    const { exposed, sent } = load();
    const studio = exposed.studio as StudioBridge;
    expect(() => studio.send({ type: 'call', id: 1, command: 'fs.read', arg: {} })).toThrow('unknown command "fs.read"');
    expect(() => studio.send({ type: 'call', id: 2, command: 'history.get', arg: { id: '../../etc' } })).toThrow(/history\.get: invalid request/);
    studio.send({ type: 'call', id: 3, command: 'history.list', arg: {} });
    expect(sent).toEqual([{ type: 'call', id: 3, command: 'history.list', arg: {} }]);
  });

  it('checks what comes back: responses against their command, events against their schema', () => {
    const { exposed, deliver } = load();
    const studio = exposed.studio as StudioBridge;
    const got: ToClient[] = [];
    studio.onMessage((m) => got.push(m));
    studio.send({ type: 'call', id: 1, command: 'jobs.list', arg: {} });
    studio.send({ type: 'call', id: 2, command: 'jobs.list', arg: {} });
    deliver({ type: 'result', id: 1, value: [] });
    deliver({ type: 'result', id: 2, value: 'not a list' });
    deliver({ type: 'event', event: 'engine.state', payload: { state: 'nonsense' } });
    deliver({ type: 'event', event: 'engine.state', payload: { state: 'ready', restarts: 0 } });
    deliver('garbage');
    expect(got.map((m) => m.type)).toEqual(['result', 'error', 'event']);
    expect((got[1] as { error: { message: string } }).error.message).toMatch(/jobs\.list: invalid response/);
  });
});
