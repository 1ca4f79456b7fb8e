import { describe, expect, it, vi } from 'vitest';
import type { Command, RequestOf, ResponseOf, StudioClient } from '../../app/channels';
import { CompareRequest, variantDifference, type HistoryManifest, type ModelEntry } from '../../app/studio';
import { Variant } from '../../app/variant';
import { connectEvents, createStudioStore } from '../../renderer/store';
import { persistSettings } from '../../renderer/store/persist';
import { applyPreview, applyProgress, resetProgress } from '../../renderer/store/progress';
import { compareRequest } from '../../renderer/store/requests';
import { toVariant, variantProblem } from '../../renderer/store/variants';

const MODEL: ModelEntry = { dir: '/models/emoji', name: 'emoji', source: 'embedded', defaultSize: 128, loras: [{ path: '/models/emoji/loras/pixel.safetensors', name: 'pixel' }] };

/** A client whose commands are answered by a table; events are pushed by the test. */
function fakeClient(answers: Partial<{ [C in Command]: (arg: RequestOf<C>) => ResponseOf<C> }>) {
  const listeners = new Map<string, Set<(p: unknown) => void>>();
  const calls: { command: string; arg: unknown }[] = [];
  const client: StudioClient = {
    call: async (command, arg) => {
      calls.push({ command, arg });
      const f = answers[command] as ((a: unknown) => unknown) | undefined;
      if (!f) throw new Error(`no answer for ${command}`);
      return f(arg) as never;
    },
    listen: (event, l) => {
      const set = listeners.get(event) ?? new Set();
      listeners.set(event, set);
      set.add(l as (p: unknown) => void);
      return () => set.delete(l as (p: unknown) => void);
    },
  };
  return { client, calls, push: (event: string, payload: unknown) => listeners.get(event)?.forEach((l) => l(payload)) };
}

const done = (id: string, req: ReturnType<typeof CompareRequest.parse>): HistoryManifest => ({
  version: 1, id, kind: 'compare', createdAt: '2025-01-01T00:00:00Z', status: 'done', model: { dir: MODEL.dir, name: 'emoji' }, params: req.params,
  compare: { a: req.a, b: req.b, repeats: 1, runs: [], images: { a: 'a.png', b: 'b.png', diff: 'diff.png' } },
});

describe('studio store', () => {
  it('selecting a model sets its size and offers its LoRAs, off', async () => {
    const { client } = fakeClient({ 'models.list': () => [MODEL] });
    const store = createStudioStore(client);
    await store.getState().loadModels();
    const s = store.getState();
    expect(s.modelDir).toBe(MODEL.dir);
    expect([s.inputs.width, s.inputs.height]).toEqual([128, 128]);
    expect(s.sharedLoras).toEqual([{ path: MODEL.loras[0]!.path, weight: 1, enabled: false }]);
  });

  it('copy A to B copies every option but keeps B\'s label, and deeply', () => {
    const store = createStudioStore(fakeClient({}).client);
    store.getState().setVariant('A', { precision: 'fp16', deepcache: { enabled: true, interval: 5, branch: 2, schedule: 'nonuniform' } });
    store.getState().copyAtoB();
    const { a, b } = store.getState();
    expect(b).toEqual({ ...a, label: 'DeepCache' });
    store.getState().setVariant('A', { deepcache: { ...a.deepcache, interval: 7 } });
    expect(store.getState().b.deepcache.interval).toBe(5);
  });

  it('a locked seed is reused; an unlocked one is redrawn for every run and shown', () => {
    const store = createStudioStore(fakeClient({}).client);
    store.getState().setInputs({ seed: 7, seedLocked: true });
    expect(store.getState().seedForRun()).toBe(7);
    store.getState().setInputs({ seedLocked: false });
    const s1 = store.getState().seedForRun();
    expect(store.getState().inputs.seed).toBe(s1);
    expect(Number.isInteger(s1) && s1 >= 0).toBe(true);
  });

  it('A and B get identical inputs; shared LoRAs go to both; the request passes the contract', () => {
    const store = createStudioStore(fakeClient({}).client);
    store.setState({ modelDir: MODEL.dir, sharedLoras: [{ path: '/l/pixel.safetensors', weight: 0.8, enabled: true }] });
    store.getState().setInputs({ prompt: 'grinning face', seed: 3, steps: 8, scheduler: '' });
    const req = CompareRequest.parse(compareRequest(store.getState(), 'job-123456', 3));
    expect(req.params).toMatchObject({ prompt: 'grinning face', seed: 3, steps: 8 });
    expect(req.params.scheduler).toBeUndefined();
    expect(req.params.negativePrompt).toBeUndefined(); // blank: absent, as SDXL's force_zeros_for_empty_prompt reads it
    store.getState().setInputs({ negativePrompt: 'blurry' });
    expect(CompareRequest.parse(compareRequest(store.getState(), 'job-123457', 3)).params.negativePrompt).toBe('blurry');
    expect(req.a.loras).toEqual([{ path: '/l/pixel.safetensors', weight: 0.8 }]);
    expect(req.b.loras).toEqual(req.a.loras);
    expect(req.a.deepcache).toBeUndefined();
    expect(req.b.deepcache).toEqual({ interval: 3, branch: 0, schedule: 'uniform' });
    expect(variantDifference(req.a, req.b)).toBe('B: DeepCache N=3 branch 0 uniform (A: DeepCache off)');
  });

  it('the editor reports what the contract refuses', () => {
    const store = createStudioStore(fakeClient({}).client);
    const a = store.getState().a;
    expect(variantProblem(a)).toBeUndefined();
    expect(variantProblem({ ...a, lcmLora: { enabled: true, path: '' } })).toMatch(/LCM-LoRA/);
    const nine = Array.from({ length: 9 }, (_, i) => ({ path: `/l${i}`, weight: 1, enabled: true }));
    expect(variantProblem({ ...a, loras: nine })).toMatch(/^loras: /);
    expect(Variant.parse(toVariant(a)).optLevel).toBe('all');
  });

  it('runs A/B through the client and opens the result with its images', async () => {
    const { client, calls } = fakeClient({
      'jobs.compare': (arg) => done(arg.jobId, CompareRequest.parse(arg)),
      'history.get': ({ id }) => done(id, CompareRequest.parse(calls[0]!.arg)),
      'history.file': ({ file }) => ({ dataUrl: `data:image/png;base64,${file}` }),
      'history.list': () => [],
    });
    const store = createStudioStore(client);
    store.setState({ modelDir: MODEL.dir });
    await store.getState().runCompare();
    const s = store.getState();
    expect(calls[0]!.command).toBe('jobs.compare');
    expect(s.current?.id).toBe((calls[0]!.arg as { jobId: string }).jobId);
    expect(Object.keys(s.images).sort()).toEqual(['a.png', 'b.png', 'diff.png']);
  });

  it('a failed run shows the engine\'s message', async () => {
    const { client } = fakeClient({
      'jobs.compare': () => {
        throw new Error('variant "B": precision bf16 is not implemented yet');
      },
      'history.list': () => [],
    });
    const store = createStudioStore(client);
    store.setState({ modelDir: MODEL.dir });
    await store.getState().runCompare();
    expect(store.getState().job).toMatchObject({ status: 'failed', error: 'variant "B": precision bf16 is not implemented yet' });
    expect(store.getState().notices.at(-1)?.text).toContain('bf16');
  });
});

describe('transient progress', () => {
  it('per-side fractions over repeats; other jobs ignored; the app store never notified', () => {
    const { client, push } = fakeClient({});
    const store = createStudioStore(client);
    connectEvents(store);
    const appUpdates = vi.fn();
    store.subscribe(appUpdates);
    const progress = store.getState().progress;
    resetProgress(progress, 'job-aaaaaa', 2, 4);
    const step = (side: string, repeat: number, s: number, jobId = 'job-aaaaaa') =>
      push('job.progress', { jobId, run: 0, label: side, side, repeat, event: { type: 'step', step: s, steps: 10, timestep: 1, ms: 1, onnxMs: 1 } });
    step('A', 0, 5);
    expect(progress.getState().sides.A).toMatchObject({ fraction: 0.25, step: 5, steps: 10 });
    step('B', 1, 10);
    expect(progress.getState().sides.B!.fraction).toBe(1);
    step('A', 1, 10, 'job-other');
    expect(progress.getState().sides.A!.fraction).toBe(0.25);
    push('job.preview', { jobId: 'job-aaaaaa', side: 'A', step: 3, steps: 10, width: 1, height: 1, rgb: btoa(String.fromCharCode(1, 2, 3)) });
    expect(Array.from(progress.getState().previews.A!.rgb)).toEqual([1, 2, 3]);
    expect(appUpdates).not.toHaveBeenCalled();
  });

  it('sweeps fill one bar over all their runs', () => {
    const store = createStudioStore(fakeClient({}).client);
    const p = store.getState().progress;
    resetProgress(p, 'job-sweep1', 1, 4);
    applyProgress(p, { jobId: 'job-sweep1', run: 2, label: 'N=2 b0', side: 'N=2 b0', repeat: 0, event: { type: 'step', step: 5, steps: 10, timestep: 1, ms: 1, onnxMs: 1 } });
    expect(p.getState().sides.job!.fraction).toBeCloseTo(2.5 / 4);
    applyPreview(p, { jobId: 'job-sweep1', side: 'N=2 b0', step: 1, steps: 10, width: 1, height: 1, rgb: 'AAAA' });
    expect(p.getState().previews.job).toBeDefined();
  });
});

describe('settings survive a reload', () => {
  it('inputs, variants and view are saved and restored; a broken entry is dropped', async () => {
    const data = new Map<string, string>();
    const storage = { getItem: (k: string) => data.get(k) ?? null, setItem: (k: string, v: string) => void data.set(k, v), removeItem: (k: string) => void data.delete(k) } as Storage;
    const first = createStudioStore(fakeClient({}).client);
    persistSettings(first, storage);
    first.getState().setInputs({ prompt: 'pile of poo', steps: 9 });
    first.getState().setVariant('B', { precision: 'fp16' });
    first.getState().setView('swipe');
    await vi.waitFor(() => expect(data.size).toBe(1));
    const second = createStudioStore(fakeClient({}).client);
    persistSettings(second, storage);
    expect(second.getState().inputs).toMatchObject({ prompt: 'pile of poo', steps: 9 });
    expect(second.getState().b.precision).toBe('fp16');
    expect(second.getState().view).toBe('swipe');
    data.set([...data.keys()][0]!, '{ broken');
    const third = createStudioStore(fakeClient({}).client);
    persistSettings(third, storage);
    expect(third.getState().inputs.prompt).toBe('grinning face, twemoji style');
    expect(data.size).toBe(0);
  });
});

describe('init image (img2img)', () => {
  const SHA = 'c'.repeat(64);
  const png = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3, 250]);

  it('is uploaded once and travels by ref; size comes from it and strength applies; cleared, back to txt2img', async () => {
    const { client, calls } = fakeClient({ 'inputs.upload': () => ({ ref: { sha256: SHA }, width: 96, height: 64, bytes: png.length }) });
    const store = createStudioStore(client);
    store.setState({ modelDir: MODEL.dir });
    await store.getState().setInitImage('cat.png', png);
    expect(calls).toEqual([{ command: 'inputs.upload', arg: { png: Buffer.from(png).toString('base64') } }]);
    expect(store.getState().initImage).toEqual({ ref: { sha256: SHA }, name: 'cat.png', width: 96, height: 64, dataUrl: `data:image/png;base64,${Buffer.from(png).toString('base64')}` });
    store.getState().setInputs({ strength: 0.45 });
    const req = CompareRequest.parse(compareRequest(store.getState(), 'job-123456', 3));
    expect(req.inputs).toEqual({ initImage: { sha256: SHA } });
    expect(req.params).toMatchObject({ strength: 0.45 });
    expect([req.params.width, req.params.height]).toEqual([undefined, undefined]);
    store.getState().clearInitImage();
    const txt = CompareRequest.parse(compareRequest(store.getState(), 'job-123457', 3));
    expect(txt.inputs).toEqual({});
    expect(txt.params.strength).toBeUndefined();
    expect([txt.params.width, txt.params.height]).toEqual([128, 128]);
  });

  it('a refused upload leaves the picked image as it was', async () => {
    const { client } = fakeClient({ 'inputs.upload': () => { throw new Error('inputs.upload: not a PNG'); } });
    const store = createStudioStore(client);
    await expect(store.getState().setInitImage('x.gif', png)).rejects.toThrow('not a PNG');
    expect(store.getState().initImage).toBeUndefined();
  });

  it('survives a reload by ref; an image gone from the workspace is dropped', async () => {
    const data = new Map<string, string>();
    const storage = { getItem: (k: string) => data.get(k) ?? null, setItem: (k: string, v: string) => void data.set(k, v), removeItem: (k: string) => void data.delete(k) } as Storage;
    const first = createStudioStore(fakeClient({ 'inputs.upload': () => ({ ref: { sha256: SHA }, width: 96, height: 64, bytes: 8 }) }).client);
    persistSettings(first, storage);
    await first.getState().setInitImage('cat.png', png);
    await vi.waitFor(() => expect(data.size).toBe(1));
    expect(JSON.parse([...data.values()][0]!).initImage).toEqual({ ref: { sha256: SHA }, name: 'cat.png', width: 96, height: 64 });
    const second = createStudioStore(fakeClient({ 'inputs.get': ({ ref }) => ({ ref, width: 96, height: 64, bytes: 8, dataUrl: 'data:image/png;base64,AAAA' }) }).client);
    persistSettings(second, storage);
    await vi.waitFor(() => expect(second.getState().initImage).toEqual({ ref: { sha256: SHA }, name: 'cat.png', width: 96, height: 64, dataUrl: 'data:image/png;base64,AAAA' }));
    const third = createStudioStore(fakeClient({}).client); // inputs.get fails: the store no longer has it
    persistSettings(third, storage);
    await new Promise((r) => setTimeout(r, 20));
    expect(third.getState().initImage).toBeUndefined();
  });
});
