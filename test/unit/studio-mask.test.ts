import { describe, expect, it } from 'vitest';
import type { StudioClient } from '../../app/channels';
import { CompareRequest } from '../../app/studio';
import { createStudioStore } from '../../renderer/store';
import { compareRequest } from '../../renderer/store/requests';

/** Uploads answered with a ref made from the call count (the host's store is tested on its own). */
function uploadingClient(): StudioClient {
  let n = 0;
  return {
    call: async (command) => {
      if (command !== 'inputs.upload') throw new Error(`no answer for ${command}`);
      n++;
      return { ref: { sha256: String(n).repeat(64).slice(0, 64) }, width: 128, height: 128 } as never;
    },
    listen: () => () => undefined,
  };
}
const png = Uint8Array.of(137, 80, 78, 71);

describe('studio store: inpainting inputs', () => {
  it('the mask and garment travel as refs beside the init image, never alone', async () => {
    const store = createStudioStore(uploadingClient());
    store.setState({ modelDir: '/models/emoji' });
    const s = store.getState();
    await s.setMask('m.png', png);
    expect(compareRequest(store.getState(), 'job-0001', 1).inputs).toBeUndefined(); // a mask without an init image is not sent
    await s.setInitImage('i.png', png);
    await s.setGarment('g.png', png);
    const req = CompareRequest.parse(compareRequest(store.getState(), 'job-0001', 1));
    expect(req.inputs).toEqual({ initImage: { sha256: '2'.repeat(64) }, mask: { sha256: '1'.repeat(64) }, garment: { sha256: '3'.repeat(64) } });
    expect(req.params.width).toBeUndefined(); // the init image sets the size
    store.getState().clearInitImage();
    expect(store.getState().mask).toBeUndefined();
  });

  it('the try-on preset: 576x768 asked for even with a person image, 25 steps, strength 0.75, B = DeepCache N=3', async () => {
    const store = createStudioStore(uploadingClient());
    store.setState({ modelDir: '/models/emoji' });
    await store.getState().setInitImage('person.png', png);
    store.getState().applyTryOn();
    const st = store.getState();
    expect(st.b.deepcache).toMatchObject({ enabled: true, interval: 3 });
    expect(st.a.deepcache.enabled).toBe(false);
    const req = CompareRequest.parse(compareRequest(st, 'job-0001', 1));
    expect(req.params).toMatchObject({ width: 576, height: 768, steps: 25, strength: 0.75 });
  });

  it('the demo sets image, mask, prompt and a locked seed', async () => {
    const store = createStudioStore(uploadingClient());
    store.setState({ modelDir: '/models/emoji' });
    await store.getState().loadInpaintDemo(png, png);
    const st = store.getState();
    expect([st.initImage?.name, st.mask?.name]).toEqual(['emoji-inpaint-image.png', 'emoji-inpaint-mask.png']);
    expect(st.inputs).toMatchObject({ prompt: 'face with tongue, twemoji style', seed: 7, seedLocked: true, strength: 1 });
  });
});

describe('studio store: run warnings', () => {
  it('opening an entry whose runs carry warnings (a resized mask) says them once', async () => {
    const result = {
      provider: 'cpu', fellBack: false, params: { prompt: 'x', negativePrompt: '', seed: 1, steps: 2, guidance: 3, batch: 1, scheduler: 'pndm', width: 128, height: 128 },
      timings: { textEncoderMs: 0, vaeEncoderMs: 0, stepMs: [], stepOnnxMs: [], denoiseMs: 0, vaeDecoderMs: 0, totalMs: 0, onnxMs: 0, overheadMs: 0 },
      prepareMs: 0, prepareSteps: {}, firstRun: true, fullSteps: [], summary: '', model: { dir: '/m', name: 'm', hash: 'h' },
      notices: ['the mask is 64x64; resized to the image\'s 128x128'],
    };
    const manifest = {
      version: 1, id: 'job-0001', kind: 'compare', createdAt: '2025-01-01T00:00:00Z', status: 'done', model: { dir: '/m', name: 'm' }, params: result.params,
      compare: { a: {}, b: {}, repeats: 1, runs: [{ side: 'A', repeat: 0, result }, { side: 'B', repeat: 0, result }], images: { a: 'a.png', b: 'b.png', diff: 'diff.png' } },
    };
    const client: StudioClient = {
      call: async (command) => (command === 'history.get' ? manifest : { dataUrl: 'data:image/png;base64,' }) as never,
      listen: () => () => undefined,
    };
    const store = createStudioStore(client);
    await store.getState().openEntry('job-0001', false);
    await store.getState().openEntry('job-0001', false);
    expect(store.getState().notices.map((n) => n.text)).toEqual(['Run job-0001: the mask is 64x64; resized to the image\'s 128x128']);
  });
});
