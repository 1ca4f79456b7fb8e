import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRequest } from '../../app/channels';
import { CompareRequest, MAX_UPLOAD_BYTES } from '../../app/studio';
import { encodePng, readPng, toRgb8 } from '../../engine/index';
import { createHandlers } from '../../main/host/handlers';
import { InputStore } from '../../main/host/inputs';
import { forkEngine } from '../../main/host/spawn-fork';
import { StudioHost } from '../../main/host/studio-host';
import { FIXTURE_MODEL } from '../parity/reference';

const gradient = (w: number, h: number): Uint8Array =>
  encodePng(toRgb8({ width: w, height: h, data: Float32Array.from({ length: w * h * 3 }, (_, i) => ((i % (w * 3)) / (w * 3)) * ((i % 3) + 1) / 3) }));
const signal = new AbortController().signal;

describe('the workspace image store', () => {
  const ws = mkdtempSync(join(tmpdir(), 'studio-inputs-'));
  const store = new InputStore(ws);

  it('stores an upload once, by content hash, and resolves its ref to the file', () => {
    const png = gradient(32, 24);
    const up = store.put(png);
    expect(up).toMatchObject({ width: 32, height: 24, bytes: png.length });
    const sha = (up.ref as { sha256: string }).sha256;
    const path = store.resolve(up.ref);
    expect(path.endsWith(join('inputs', `${sha}.png`))).toBe(true);
    expect(readFileSync(path)).toEqual(Buffer.from(png));
    expect(store.put(png).ref).toEqual(up.ref); // same bytes, same ref
    expect(store.read(up.ref).dataUrl).toBe(`data:image/png;base64,${Buffer.from(png).toString('base64')}`);
  });

  it('refuses what is not a PNG, or too large', () => {
    expect(() => store.put(new TextEncoder().encode('GIF89a not a png'))).toThrow(/inputs.upload: not a PNG/);
    const broken = gradient(8, 8).slice(0, 40);
    expect(() => store.put(broken)).toThrow(/inputs.upload: not a readable PNG/);
    expect(() => store.put(new Uint8Array(MAX_UPLOAD_BYTES + 1))).toThrow(`at most ${MAX_UPLOAD_BYTES} are accepted`);
    expect(() => parseRequest('inputs.upload', { png: 'x'.repeat(Math.ceil(MAX_UPLOAD_BYTES / 3) * 4 + 4) })).toThrow(new RegExp(`inputs.upload: invalid request: .*at most ${MAX_UPLOAD_BYTES / 2 ** 20} MiB`));
  });

  it('resolves a path ref only inside the workspace, symlinks followed', () => {
    mkdirSync(join(ws, 'pics'), { recursive: true });
    writeFileSync(join(ws, 'pics', 'in.png'), gradient(8, 8));
    expect(store.resolve({ path: 'pics/in.png' })).toBe(join(ws, 'pics', 'in.png'));
    expect(store.resolve({ path: join(ws, 'pics', 'in.png') })).toBe(join(ws, 'pics', 'in.png'));
    const outside = mkdtempSync(join(tmpdir(), 'studio-outside-'));
    writeFileSync(join(outside, 'secret.png'), gradient(8, 8));
    expect(() => store.resolve({ path: join(outside, 'secret.png') }, 'initImage')).toThrow(/^initImage .*secret\.png: outside the workspace/);
    expect(() => store.resolve({ path: '../' + outside.split('/').pop() + '/secret.png' })).toThrow(/outside the workspace/);
    symlinkSync(join(outside, 'secret.png'), join(ws, 'pics', 'link.png'));
    expect(() => store.resolve({ path: 'pics/link.png' })).toThrow(/outside the workspace/);
    writeFileSync(join(ws, 'pics', 'notes.png'), 'hello');
    expect(() => store.resolve({ path: 'pics/notes.png' })).toThrow(/pics\/notes\.png: not a PNG file/);
    expect(() => store.resolve({ path: 'pics/none.png' })).toThrow(/pics\/none\.png: no such file/);
    expect(() => store.resolve({ sha256: 'a'.repeat(64) }, 'initImage')).toThrow(/initImage sha256 aaaaaaaaaaaa…: not in the workspace's image store/);
  });
});

describe('img2img A/B through the studio host (engine in its own process)', () => {
  let host: StudioHost;
  beforeAll(async () => {
    const ws = mkdtempSync(join(tmpdir(), 'studio-img2img-'));
    host = new StudioHost({
      workspace: ws, mode: 'serve', version: 'test', spawnEngine: forkEngine({ STUDIO_ENGINE_CACHE: join(ws, '.cache') }),
      models: { embedded: join(ws, 'no-embedded-model'), fixture: FIXTURE_MODEL },
    });
    await host.engine.start();
  });
  afterAll(() => host.close());
  const req = (jobId: string, extra: object) => CompareRequest.parse({
    jobId, model: FIXTURE_MODEL, params: { prompt: 'a cat', seed: 7, steps: 6 }, a: { label: 'base' }, b: { label: 'dc2', deepcache: { interval: 2, branch: 0 } }, ...extra,
  });

  it('uploads once, runs both sides on the same init image, and the history and report keep it', async () => {
    const h = createHandlers(host);
    const up = await h['inputs.upload'](parseRequest('inputs.upload', { png: Buffer.from(gradient(64, 32)).toString('base64') }), signal);
    const img = await host.compare(req('img2img-1', { params: { prompt: 'a cat', seed: 7, steps: 6, strength: 0.5 }, inputs: { initImage: up.ref } }));
    const txt = await host.compare(req('txt2img-1', { params: { prompt: 'a cat', seed: 7, steps: 6, width: 64, height: 32 } }));
    expect(img.status).toBe('done');
    expect(img.inputs).toEqual({ initImage: up.ref });
    expect(host.history.get('img2img-1').inputs).toEqual({ initImage: up.ref });
    expect(txt.inputs).toBeUndefined();
    // both sides started from the encoded init image and ran part of the schedule (strength 0.5)
    const txtSteps = txt.compare!.runs[0]!.result.timings.stepMs.length;
    for (const r of img.compare!.runs) {
      expect(r.result.timings.vaeEncoderMs).toBeGreaterThan(0);
      expect(r.result.timings.stepMs.length).toBeLessThan(txtSteps);
    }
    expect(txt.compare!.runs[0]!.result.timings.vaeEncoderMs).toBe(0);
    const a = readPng(host.history.filePath('img2img-1', 'a.png'));
    expect([a.width, a.height]).toEqual([64, 32]);
    expect(a.data).not.toEqual(readPng(host.history.filePath('txt2img-1', 'a.png')).data);
    const { html } = await h['history.export']({ id: 'img2img-1' }, signal);
    expect(html).toContain(`<img src="${host.inputs.read(up.ref).dataUrl}" alt="init image">`);
    expect(html).toContain('init image (64x32), strength 0.5');
  });

  it('refuses a bad ref when the job is asked for, before anything is queued', async () => {
    const outside = join(mkdtempSync(join(tmpdir(), 'studio-outside-')), 'in.png');
    writeFileSync(outside, gradient(64, 32));
    await expect(host.compare(req('img2img-2', { inputs: { initImage: { path: outside } } }))).rejects.toThrow(/^initImage .*in\.png: outside the workspace/);
    await expect(host.compare(req('img2img-3', { inputs: { initImage: { sha256: 'b'.repeat(64) } } }))).rejects.toThrow(/not in the workspace's image store/);
    expect(host.history.list().map((e) => e.id)).not.toContain('img2img-2');
  });
});
