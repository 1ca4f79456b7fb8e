import { describe, expect, it, vi } from 'vitest';
import { COMMANDS, EVENTS, type Handlers, type ToClient, type ToHost } from '../../app/channels';
import { CompareRequest } from '../../app/studio';
import { Dispatcher } from '../../main/host/dispatcher';
import { createHandlers } from '../../main/host/handlers';
import type { EventListener, StudioHost } from '../../main/host/studio-host';
import { RpcClient } from '../../renderer/client/rpc';

/** A host and a client joined by an in-memory wire that copies like a socket (JSON). */
function pair(handlers: Partial<Handlers>) {
  const listeners = new Set<EventListener>();
  const dispatcher = new Dispatcher(handlers as Handlers, (l) => {
    listeners.add(l);
    return () => listeners.delete(l);
  });
  let toClient: (m: unknown) => void = () => {};
  let closeClient: (r: string) => void = () => {};
  const sent: ToHost[] = [];
  const conn = dispatcher.connect((msg: ToClient) => queueMicrotask(() => toClient(JSON.parse(JSON.stringify(msg)))));
  const client = new RpcClient({
    send: (msg) => {
      sent.push(msg);
      queueMicrotask(() => conn.receive(JSON.parse(JSON.stringify(msg))));
    },
    onMessage: (cb) => (toClient = cb),
    onClose: (cb) => (closeClient = cb),
  });
  const emit: EventListener = (event, payload) => listeners.forEach((l) => l(event, payload));
  return { client, conn, emit, sent, raw: (m: unknown) => toClient(m), drop: (r: string) => closeClient(r) };
}

const info = { mode: 'serve' as const, workspace: '/w', version: '1', engine: { state: 'ready' as const, restarts: 0 } };

describe('channel table', () => {
  it('every command has request and response schemas, every event a payload schema', () => {
    for (const [name, c] of Object.entries(COMMANDS)) {
      expect(c.request, name).toBeDefined();
      expect(c.response, name).toBeDefined();
    }
    expect(Object.keys(EVENTS).sort()).toEqual(['engine.state', 'history.changed', 'job.preview', 'job.progress', 'job.state']);
  });
  it('the host handler table covers exactly the channel table', () => {
    const handlers = createHandlers({ opts: {} } as unknown as StudioHost);
    expect(Object.keys(handlers).sort()).toEqual(Object.keys(COMMANDS).sort());
  });
  it('a compare request fills defaults and rejects unknown fields (strict)', () => {
    const base = { jobId: 'abcdef-1', model: '/m', params: { prompt: 'x', seed: 1 }, a: {}, b: { deepcache: { interval: 3, branch: 0 } } };
    const r = CompareRequest.parse(base);
    expect(r).toMatchObject({ repeats: 1, previews: true, params: { steps: 50, guidance: 7.5 }, a: { provider: 'cpu', precision: 'fp32' }, b: { deepcache: { schedule: 'uniform' } } });
    expect(CompareRequest.safeParse({ ...base, extra: 1 }).success).toBe(false);
    expect(CompareRequest.safeParse({ ...base, jobId: '../../etc' }).success).toBe(false);
  });
});

describe('call and listen over a wire', () => {
  it('answers a call with the validated response', async () => {
    const { client } = pair({ 'studio.info': async () => info });
    await expect(client.call('studio.info', {})).resolves.toEqual(info);
  });

  it('rejects an invalid request before any handler runs, naming the command and field', async () => {
    const handler = vi.fn(async () => ({ ok: true as const }));
    const { client } = pair({ 'history.delete': handler });
    await expect(client.call('history.delete', { id: 'no/slash' })).rejects.toMatchObject({ name: 'ChannelError', message: expect.stringMatching(/^history\.delete: invalid request: id: /) });
    await expect(client.call('nope' as 'studio.info', {})).rejects.toThrow('unknown command "nope"');
    expect(handler).not.toHaveBeenCalled();
  });

  it('errors cross as {name, message, stack}', async () => {
    const { client } = pair({
      'models.add': async () => {
        const e = new Error('/x/model_index.json: missing');
        e.name = 'ModelError';
        throw e;
      },
    });
    const err = await client.call('models.add', { path: '/x' }).catch((e: Error) => e);
    expect(err).toMatchObject({ name: 'ModelError', message: '/x/model_index.json: missing' });
    expect((err as Error).stack).toContain('studio-channels.test.ts');
  });

  it('a response that breaks the table is refused on arrival', async () => {
    const { client } = pair({ 'studio.info': async () => ({ ...info, mode: 'web' }) as never });
    await expect(client.call('studio.info', {})).rejects.toThrow(/studio\.info: invalid response: mode/);
  });

  it('cancellation reaches the handler as an aborted signal', async () => {
    let seen: AbortSignal | undefined;
    const { client, sent } = pair({
      'jobs.list': (_arg, signal) => new Promise((_, reject) => {
        seen = signal;
        signal.addEventListener('abort', () => reject(Object.assign(new Error('run cancelled'), { name: 'CancelledError' })));
      }),
    });
    const abort = new AbortController();
    const p = client.call('jobs.list', {}, abort.signal);
    await vi.waitFor(() => expect(seen).toBeDefined());
    abort.abort();
    await expect(p).rejects.toMatchObject({ name: 'CancelledError' });
    expect(seen!.aborted).toBe(true);
    expect(sent.map((m) => m.type)).toEqual(['call', 'cancel']);
  });

  it('events reach listeners validated; malformed ones are dropped', async () => {
    const { client, emit, raw } = pair({});
    const got: unknown[] = [];
    const off = client.listen('engine.state', (s) => got.push(s));
    emit('engine.state', { state: 'crashed', restarts: 1, message: 'boom' });
    await vi.waitFor(() => expect(got).toHaveLength(1));
    const err = vi.spyOn(console, 'error').mockImplementation(() => {});
    raw({ type: 'event', event: 'engine.state', payload: { state: 'exploded' } });
    raw({ type: 'event', event: 'unknown.event', payload: {} });
    expect(got).toEqual([{ state: 'crashed', restarts: 1, message: 'boom' }]);
    expect(err).toHaveBeenCalledTimes(2);
    err.mockRestore();
    off();
  });

  it('a dropped wire fails the calls in flight instead of hanging them', async () => {
    const { client, drop } = pair({ 'jobs.list': () => new Promise(() => {}) });
    const p = client.call('jobs.list', {});
    drop('socket closed');
    await expect(p).rejects.toThrow('connection to the studio host lost (socket closed)');
  });

  it('a malformed message gets an error back, not silence', async () => {
    const replies: ToClient[] = [];
    const d = new Dispatcher({} as Handlers, () => () => {});
    const c = d.connect((m) => replies.push(m));
    c.receive({ type: 'call', id: 'x' });
    c.receive('garbage');
    expect(replies.map((r) => r.type)).toEqual(['error', 'error']);
  });
});
