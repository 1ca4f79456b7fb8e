/**
 * Fault tests (issue 11): the engine host killed, stopped or left hanging, and the workspace turning
 * read-only or full mid-run. Each ends with the host still serving and every entry in a final state.
 * (SIGKILL mid-run: test/unit/studio-host.test.ts; server SIGTERM mid-run: studio-serve.test.ts.)
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PayloadOf } from '../../app/channels';
import { CompareRequest, type CompareRequestInput } from '../../app/studio';
import { HistoryStore } from '../../main/host/history';
import { forkEngine } from '../../main/host/spawn-fork';
import { StudioHost } from '../../main/host/studio-host';
import { mountReadOnly, mountTiny, remountWritable, unmount } from '../corpus/support/workspace';
import { FIXTURE_MODEL } from '../parity/reference';

const SILENCE_MS = 3000;
/** An error nobody handled (EPIPE on a dead child) would end a real server; here it is caught and must not occur. */
const uncaught: string[] = [];
process.on('uncaughtException', (e) => uncaught.push(`${e.name}: ${e.message}`));
const cache = mkdtempSync(join(tmpdir(), 'fault-cache-'));
let n = 0;
const compare = (patch: Partial<CompareRequestInput> = {}) => CompareRequest.parse({
  jobId: `fault-${process.pid}-${n++}`, model: FIXTURE_MODEL, params: { prompt: 'a cat', seed: 1, steps: 1, width: 64, height: 64 }, a: {}, b: {}, repeats: 1, ...patch,
});
// 999: PNDM with steps_offset 1 refuses 1000 steps (they would reach timestep 1000, past the schedule)
const long = () => compare({ params: { prompt: 'a cat', seed: 1, steps: 999, width: 64, height: 64 } });

function newHost(workspace: string): StudioHost {
  return new StudioHost({
    workspace, mode: 'serve', version: 'fault', spawnEngine: forkEngine({ STUDIO_ENGINE_CACHE: cache }),
    models: { embedded: join(workspace, 'none'), fixture: FIXTURE_MODEL }, supervisor: { silenceMs: SILENCE_MS, cancelGraceMs: 1000 },
  });
}

const firstStep = (host: StudioHost, id: string) => new Promise<void>((resolve) => {
  const off = host.onEvent((e, p) => {
    if (e === 'job.progress' && (p as PayloadOf<'job.progress'>).jobId === id && (p as PayloadOf<'job.progress'>).event.type === 'step') {
      off();
      resolve();
    }
  });
});

describe('fault: the engine host', () => {
  let host: StudioHost;
  beforeAll(async () => {
    host = newHost(mkdtempSync(join(tmpdir(), 'fault-engine-')));
    await host.engine.start();
  });
  afterAll(() => host.close());

  it('killed while idle with a job sent at once: no unhandled EPIPE, the job settles, the engine restarts', async () => {
    const pid = host.engine.pid!;
    process.kill(pid, 'SIGKILL');
    const req = compare();
    const outcome = await host.compare(req).then((m) => m.status, (e: Error) => e.message);
    expect(outcome).toMatch(/^done$|engine process crashed \(signal SIGKILL\); it was restarted/);
    expect(host.history.get(req.jobId).status).toMatch(/^(done|failed)$/);
    expect((await host.compare(compare())).status).toBe('done');
    expect(host.engine.pid).not.toBe(pid);
    expect(uncaught, 'no uncaught error in the host').toEqual([]);
  }, 60_000);

  /** A long job stopped (SIGSTOP) after its first step, and a short one queued behind it. */
  async function stoppedMidRun() {
    const hung = long();
    const started = firstStep(host, hung.jobId);
    const p1 = host.compare(hung);
    await started;
    const pid = host.engine.pid!;
    process.kill(pid, 'SIGSTOP');
    return { hung, p1, pid, p2: host.compare(compare()), t0: Date.now() };
  }

  it('stopped mid-run (SIGSTOP): the watchdog fails the job "engine stopped responding", restarts, the queue moves on', async () => {
    const { hung, p1, pid, p2, t0 } = await stoppedMidRun();
    await expect(p1).rejects.toMatchObject({ name: 'EngineHungError', message: expect.stringMatching(/engine stopped responding \(it sent nothing and used no CPU for 3 s\); it was killed and restarted/) });
    expect(Date.now() - t0).toBeLessThan(SILENCE_MS + 3000);
    expect((await p2).status).toBe('done');
    expect(host.history.get(hung.jobId)).toMatchObject({ status: 'failed', error: expect.stringMatching(/stopped responding/) });
    expect(host.engine.pid).not.toBe(pid);
  }, 60_000);

  it('jobs.cancel of a hung job really frees the queue: cancelled within the grace period, the next job runs', async () => {
    const { hung, p1, p2, t0 } = await stoppedMidRun();
    expect(host.queue.cancel(hung.jobId)).toBe(true);
    await expect(p1).rejects.toMatchObject({ name: 'CancelledError' });
    expect(Date.now() - t0).toBeLessThan(SILENCE_MS);
    expect((await p2).status).toBe('done');
    expect(host.history.get(hung.jobId).status).toBe('cancelled');
  }, 60_000);

  it('a job reusing the id of a running one is refused; the running job\'s entry is untouched', async () => {
    const running = long();
    const started = firstStep(host, running.jobId);
    const p = host.compare(running);
    await started;
    await expect(host.compare({ ...running, params: { ...running.params, steps: 2 } })).rejects.toThrow(/already exists/);
    expect(host.history.get(running.jobId).status).toBe('running');
    host.queue.cancel(running.jobId);
    await expect(p).rejects.toMatchObject({ name: 'CancelledError' });
    expect(host.history.get(running.jobId).status).toBe('cancelled');
  }, 60_000);
});

describe('fault: the workspace mid-run (mounts; skipped with a message where mounting is not allowed)', () => {
  /** Runs a long job on a host whose workspace `spoil` ruins after the first step; returns the failure. */
  async function spoiledMidRun(workspace: string, spoil: () => void): Promise<{ host: StudioHost; id: string; error: Error }> {
    const host = newHost(workspace);
    const req = compare({ params: { prompt: 'a cat', seed: 1, steps: 60, width: 64, height: 64 } });
    const started = firstStep(host, req.jobId);
    const job = host.compare(req);
    await started;
    spoil();
    const error = await job.then(() => new Error('the job succeeded'), (e: Error) => e);
    return { host, id: req.jobId, error };
  }

  it('read-only mid-run: the job reports it, the entry ends failed, and is marked interrupted on restart', async (ctx) => {
    const ws = mkdtempSync(join(tmpdir(), 'fault-ro-'));
    const mounted = mountReadOnly(ws);
    if (!mounted.ok) {
      console.log(`skipping: mount failed (${mounted.why})`);
      return ctx.skip();
    }
    remountWritable(ws);
    try {
      const { host, id, error } = await spoiledMidRun(ws, () => mountReadOnly(ws));
      expect(error.message).toMatch(new RegExp(`^the workspace is read-only: ${join(ws, 'runs', id)}`));
      expect(host.history.get(id)).toMatchObject({ status: 'failed', error: expect.stringMatching(/read-only/) });
      expect(host.history.list().find((e) => e.id === id)!.status).toBe('failed');
      await host.close();
      remountWritable(ws);
      expect(new HistoryStore(ws).open().get(id).status).toBe('interrupted');
    } finally {
      unmount(ws);
      unmount(ws);
    }
  }, 60_000);

  it('full disk mid-run: the job reports it, the entry ends failed, and is marked interrupted on restart', async (ctx) => {
    const ws = mkdtempSync(join(tmpdir(), 'fault-full-'));
    const mounted = mountTiny(ws, '4m');
    if (!mounted.ok) {
      console.log(`skipping: mount -t tmpfs failed (${mounted.why})`);
      return ctx.skip();
    }
    try {
      mkdirSync(join(ws, 'runs'));
      const filler = join(ws, 'filler');
      const { host, id, error } = await spoiledMidRun(ws, () => {
        try {
          writeFileSync(filler, Buffer.alloc(8 * 1024 * 1024));
        } catch {
          /* ENOSPC: the disk is now full, as meant */
        }
      });
      expect(error.message).toMatch(/^the workspace's disk is full: /);
      expect(host.history.get(id)).toMatchObject({ status: 'failed', error: expect.stringMatching(/disk is full/) });
      await host.close();
      rmSync(filler);
      expect(new HistoryStore(ws).open().get(id).status).toBe('interrupted');
    } finally {
      unmount(ws);
    }
  }, 60_000);
});
