import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventName, PayloadOf } from '../../app/channels';
import { BlindRequest } from '../../app/blind';
import { CompareRequest, StepTrajectory, SweepRequest, type CompareRequestInput } from '../../app/studio';
import { readPng } from '../../engine/index';
import { createHandlers } from '../../main/host/handlers';
import { forkEngine } from '../../main/host/spawn-fork';
import { StudioHost } from '../../main/host/studio-host';
import { FIXTURE_MODEL } from '../parity/reference';

/** The studio host on the tiny fixture model with a real engine host process. */
let host: StudioHost;
const events: { event: EventName; payload: unknown }[] = [];
const of = <E extends EventName>(e: E, jobId?: string) =>
  events.filter((x) => x.event === e && (!jobId || (x.payload as { jobId?: string }).jobId === jobId)).map((x) => x.payload as PayloadOf<E>);
let n = 0;
const jobId = () => `test-${Date.now().toString(36)}-${n++}`;
const compare = (patch: Partial<CompareRequestInput> = {}) => CompareRequest.parse({
  jobId: jobId(), model: FIXTURE_MODEL, params: { prompt: 'a cat', seed: 42, steps: 6, width: 64, height: 64 }, a: { label: 'base' },
  b: { label: 'dc3', deepcache: { interval: 3, branch: 0 } }, repeats: 2, ...patch,
});
const firstStep = (id: string) => new Promise<void>((resolve) => {
  const off = host.onEvent((e, p) => {
    if (e === 'job.progress' && (p as PayloadOf<'job.progress'>).jobId === id && (p as PayloadOf<'job.progress'>).event.type === 'step') {
      off();
      resolve();
    }
  });
});

beforeAll(async () => {
  const ws = mkdtempSync(join(tmpdir(), 'studio-host-'));
  host = new StudioHost({
    workspace: ws, mode: 'serve', version: 'test',
    spawnEngine: forkEngine({ STUDIO_TEST_FAULTS: '1', STUDIO_ENGINE_CACHE: join(ws, '.cache') }),
    models: { embedded: join(ws, 'no-embedded-model'), fixture: FIXTURE_MODEL },
  });
  host.onEvent((event, payload) => events.push({ event, payload }));
  await host.engine.start();
});
afterAll(() => host.close());

describe('studio host (engine in its own process)', () => {
  it('runs A and B on identical inputs and keeps everything in the history', async () => {
    const req = compare();
    const m = await host.compare(req);
    expect(m.status).toBe('done');
    const c = m.compare!;
    expect(c.runs.map((r) => `${r.side}${r.repeat}`)).toEqual(['A0', 'B0', 'A1', 'B1']);
    expect(c.runs[0]!.result.fullSteps.length).toBeGreaterThan(c.runs[1]!.result.fullSteps.length);
    expect(c.runs.map((r) => r.result.firstRun)).toEqual([true, true, false, false]);
    expect(c.metrics!.ssim).toBeLessThan(1);
    const saved = host.history.get(req.jobId);
    expect(saved).toEqual(m);
    const a = readPng(host.history.filePath(req.jobId, 'a.png'));
    expect([a.width, a.height]).toEqual([64, 64]);
    expect(a.text.parameters).toMatch(/^a cat\nSteps: 6, .*Seed: 42, Size: 64x64, Model hash: [0-9a-f]+, Model: tiny-sd, Provider: cpu, Variant: "base: provider cpu/);
    expect(readPng(host.history.filePath(req.jobId, 'b.png')).text.parameters).toContain('DeepCache N=3');
    const summary = host.history.list().find((h) => h.id === req.jobId)!;
    expect(summary).toMatchObject({ status: 'done', title: 'DeepCache N=3 branch 0 uniform vs baseline ×2', model: 'tiny-sd' });
    expect(summary.thumb).toMatch(/^data:image\/png;base64,/);
    expect(summary.speedup).toBeGreaterThan(0);
    // progress, previews and state reached the transports
    const progress = of('job.progress', req.jobId);
    expect(new Set(progress.map((p) => p.side))).toEqual(new Set(['A', 'B']));
    expect(of('job.preview', req.jobId).length).toBeGreaterThan(0);
    expect(of('job.state', req.jobId).map((s) => s.status)).toEqual(expect.arrayContaining(['queued', 'running', 'done']));
  });

  it('stale-baseline guard: A is reused only while its key holds, else re-run with the reason; the trajectory keeps drift and full steps', async () => {
    const first = compare({ repeats: 1, reuseA: true, params: { prompt: 'a baseline cat', seed: 5, steps: 4, width: 64, height: 64 } });
    const m1 = await host.compare(first);
    expect(m1.compare!.baseline).toEqual({ message: expect.stringMatching(/^A (run: no earlier run to reuse|re-run: )/) });
    expect(m1.compare!.aKey!.modelHash).toMatch(/^[0-9a-f]{12}$/);
    const t1 = StepTrajectory.parse(JSON.parse(host.history.readFile(first.jobId, 'steps.json').toString('utf8')));
    const [ra, rb] = m1.compare!.runs.map((r) => r.result);
    expect(t1.steps).toBe(ra!.timings.stepMs.length); // PNDM: one more timestep than steps
    expect(t1.frames.A.every((f) => f.length > 0) && t1.frames.B.every((f) => f.length > 0)).toBe(true);
    expect(t1.fullSteps).toEqual({ A: ra!.fullSteps, B: rb!.fullSteps });
    expect(rb!.fullSteps.length).toBeLessThan(t1.steps);
    expect(t1.drift[0]).toBe(0); // step 0 runs the full UNet on both sides: identical latents
    expect(t1.drift.at(-1)!).toBeGreaterThan(0);

    // same key (a new B, a new label on A): A's runs and image come from the first entry, only B runs
    const second = compare({ repeats: 1, reuseA: true, params: first.params, a: { label: 'renamed' }, b: { label: 'dc2', deepcache: { interval: 2, branch: 0 } } });
    const m2 = await host.compare(second);
    expect(m2.compare!.baseline).toEqual({ reusedFrom: first.jobId, message: `A reused from run ${first.jobId}` });
    expect(m2.compare!.runs.map((r) => r.side)).toEqual(['A', 'B']);
    expect(m2.compare!.runs[0]).toEqual(m1.compare!.runs[0]);
    expect(host.history.readFile(second.jobId, 'a.png').equals(host.history.readFile(first.jobId, 'a.png'))).toBe(true);
    expect(of('job.progress', second.jobId).every((p) => p.side === 'B')).toBe(true);
    const t2 = StepTrajectory.parse(JSON.parse(host.history.readFile(second.jobId, 'steps.json').toString('utf8')));
    expect(t2.frames.A).toEqual(t1.frames.A);
    expect(t2.fullSteps.B).toEqual(m2.compare!.runs[1]!.result.fullSteps);
    expect(t2.fullSteps.B).not.toEqual(t1.fullSteps.B);
    expect(t2.drift.every((d) => d !== null)).toBe(true); // A's latents came back from latents-a.bin

    // a parameter changed: A re-runs and the message says what changed
    const third = compare({ repeats: 1, reuseA: true, params: { ...first.params, steps: 3 } });
    const m3 = await host.compare(third);
    expect(m3.compare!.baseline).toEqual({ message: 'A re-run: the parameters changed (steps)' });
    expect(m3.compare!.runs.map((r) => r.side)).toEqual(['A', 'B']);
  }, 120_000);

  it('blind session: pairs made with sides drawn by the host, votes saved, bad votes refused, reported', async () => {
    const h = createHandlers(host), sig = new AbortController().signal;
    const id = jobId();
    const m = await h['jobs.blind'](BlindRequest.parse({ jobId: id, model: FIXTURE_MODEL, params: { prompt: '', seed: 0, steps: 2, width: 64, height: 64 }, prompts: ['a cat'], seeds: [1, 2], a: { label: 'base' }, b: { label: 'dc', deepcache: { interval: 2, branch: 0 } } }), sig);
    expect(m.status).toBe('done');
    expect(m.blind!.pairs.map((p) => [p.prompt, p.seed])).toEqual([['a cat', 1], ['a cat', 2]]);
    for (const p of m.blind!.pairs) {
      expect(['A', 'B']).toContain(p.left);
      expect(host.history.readFile(id, p.images.a).length).toBeGreaterThan(0);
    }
    const voted = await h['blind.vote']({ id, pair: 1, vote: 'same', ms: 812 }, sig);
    expect(voted.blind!.pairs[1]).toMatchObject({ vote: 'same', ms: 812 });
    expect(host.history.get(id).blind!.pairs[1]!.vote).toBe('same'); // on disk
    await expect(h['blind.vote']({ id, pair: 2, vote: 'left', ms: 1 }, sig)).rejects.toThrow(`blind.vote: session ${id} has no pair 3 (it has 2)`);
    const compareId = (await host.compare(compare({ repeats: 1, params: { prompt: 'x', seed: 1, steps: 2, width: 64, height: 64 } }))).id;
    await expect(h['blind.vote']({ id: compareId, pair: 0, vote: 'left', ms: 1 }, sig)).rejects.toThrow('is not a blind A/B session');
    expect(host.history.list().find((e) => e.id === id)!.title).toBe('Blind A/B: DeepCache N=2 branch 0 uniform vs baseline, 2 pairs');
    const { html } = await h['history.export']({ id }, sig);
    expect(html).toContain("A 0 · B 0 · same 1 · can't tell 0 · 1/2 voted");
    expect(html).toContain('no pair decided');
  }, 120_000);

  it('exports a self-contained HTML report (images inline, SVG charts, config)', async () => {
    const req = compare({ repeats: 1 });
    await host.compare(req);
    const { html, path } = await createHandlers(host)['history.export']({ id: req.jobId }, new AbortController().signal);
    expect(path).toMatch(/report\.html$/);
    expect(html.match(/<img src="data:image\/png;base64,/g)!.length).toBe(4); // A, B, |A−B|, SSIM map
    expect(html.match(/<svg /g)!.length).toBeGreaterThanOrEqual(2);
    expect(html).toContain('DeepCache N=3 branch 0 uniform');
    expect(html).not.toMatch(/<script|src="http|href="http/);
  });

  it('a DeepCache sweep measures every interval against the interval-1 image', async () => {
    const req = SweepRequest.parse({ jobId: jobId(), model: FIXTURE_MODEL, params: { prompt: 'x', seed: 1, steps: 6, width: 64, height: 64 }, base: {}, intervals: [2, 3], branches: [0], repeats: 1 });
    const m = await host.sweep(req);
    const pts = m.sweep!.points;
    expect(pts.map((p) => p.interval)).toEqual([1, 2, 3]);
    expect(pts[0]!.ssim).toBeCloseTo(1, 6);
    expect(pts[0]!.psnr).toBeNull();
    expect(pts[2]!.fullSteps).toBeLessThan(pts[0]!.fullSteps);
  });

  it('an engine killed mid-run fails that job with a clear message, restarts, and the history survives', async () => {
    const before = host.history.list().length;
    const req = compare({ params: { prompt: 'a cat', seed: 1, steps: 400, width: 64, height: 64 }, repeats: 1 });
    const started = firstStep(req.jobId);
    const job = host.compare(req);
    await started;
    const pid = host.engine.pid!;
    process.kill(pid, 'SIGKILL');
    await expect(job).rejects.toMatchObject({ name: 'EngineCrashedError', message: expect.stringMatching(/engine process crashed \(signal SIGKILL\); it was restarted/) });
    const m = host.history.get(req.jobId);
    expect(m.status).toBe('failed');
    expect(m.error).toMatch(/crashed/);
    expect(host.history.list()).toHaveLength(before + 1);
    const next = await host.compare(compare({ repeats: 1 }));
    expect(next.status).toBe('done');
    expect(host.engine.pid).not.toBe(pid);
    expect(of('engine.state').some((s) => s.state === 'starting' && /restarted after a crash/.test(s.message ?? ''))).toBe(true);
  });

  it('an engine out of memory is restarted, and says so', async () => {
    const req = compare({ params: { prompt: '__oom__', seed: 1, steps: 2, width: 64, height: 64 }, repeats: 1 });
    await expect(host.compare(req)).rejects.toMatchObject({ name: 'EngineOutOfMemoryError', message: expect.stringMatching(/ran out of memory .* restarted/) });
    expect((await host.compare(compare({ repeats: 1 }))).status).toBe('done');
  });

  it('cancels a running job and a queued one; both are recorded as cancelled', async () => {
    const long = compare({ params: { prompt: 'a cat', seed: 1, steps: 400, width: 64, height: 64 }, repeats: 1 });
    const queued = compare({ repeats: 1 });
    const started = firstStep(long.jobId);
    const p1 = host.compare(long);
    const p2 = host.compare(queued);
    await started;
    expect(host.queue.list().map((j) => [j.jobId, j.status])).toEqual([[long.jobId, 'running'], [queued.jobId, 'queued']]);
    expect(host.queue.cancel(queued.jobId)).toBe(true);
    expect(host.queue.cancel(long.jobId)).toBe(true);
    await expect(p1).rejects.toMatchObject({ name: 'CancelledError' });
    await expect(p2).rejects.toMatchObject({ name: 'CancelledError' });
    expect(host.history.get(long.jobId).status).toBe('cancelled');
    expect(host.history.get(queued.jobId).status).toBe('cancelled');
    expect(of('job.progress', queued.jobId)).toEqual([]);
  });

  it('refuses a folder that is not a model, naming what is wrong', async () => {
    expect(() => host.models.add(join(FIXTURE_MODEL, 'unet'))).toThrow(/model_index\.json/);
    await expect(host.compare(compare({ model: '/nonexistent/model' }))).rejects.toThrow(/not a folder/);
  });
});
