import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../engine/engine';
import { writePng } from '../../engine/image/png';
import { toRgb8 } from '../../engine/image/rgb';
import { loadModel, type LoadedModel } from '../../engine/model/model';
import { CancelledError, generate } from '../../engine/pipeline/generate';
import { FIXTURE_MODEL } from '../parity/reference';
import { modelCopy, timesConstant } from '../support/model-variants';

let model: LoadedModel;
beforeAll(async () => {
  model = await loadModel(FIXTURE_MODEL);
});
afterAll(async () => model.release());

const base = { prompt: 'a cat', seed: 1, steps: 2 };
const img = (w: number, h: number) => ({ width: w, height: h, data: new Float32Array(w * h * 3).fill(0.5) });

describe('generate: bad inputs are refused with the reason', () => {
  const cases: [string, Record<string, unknown>, string][] = [
    ['width not a multiple of 8', { width: 100 }, 'width 100 is not a multiple of 8'],
    ['height not a multiple of 8', { height: 36 }, 'height 36 is not a multiple of 8'],
    ['size the UNet cannot downsample', { width: 40 }, "width 40: this model's UNet needs multiples of 32 pixels (VAE x8, UNet x4)"],
    ['negative seed', { seed: -1 }, 'seed: seed must be >= 0'],
    ['fractional seed', { seed: 1.5 }, 'seed: seed must be an integer'],
    ['zero steps', { steps: 0 }, 'steps: steps must be >= 1'],
    ['too many steps', { steps: 1001 }, 'steps: steps must be <= 1000'],
    ['batch 0', { batch: 0 }, 'batch: batch must be >= 1'],
    ['negative guidance', { guidance: -1 }, 'guidance: guidance must be >= 0'],
    ['unknown scheduler', { scheduler: 'heun' }, 'scheduler: Invalid option'],
    ['unknown field', { sampler: 'euler' }, 'Unrecognized key: "sampler"'],
    ['strength without init image', { strength: 0.5 }, 'strength applies to img2img only'],
    ['strength out of range', { strength: 1.5 }, 'strength: strength must be <= 1'],
  ];
  for (const [name, extra, message] of cases) {
    it(name, async () => {
      await expect(generate(model, { ...base, ...extra } as never)).rejects.toThrow(message);
    });
  }
  it('init image size differs from the size asked for', async () => {
    await expect(generate(model, { ...base, width: 64, height: 64 }, { initImage: img(96, 64) })).rejects.toThrow(
      'the init image is 96x64 but 64x64 was asked for',
    );
  });
  it('strength too low for the steps', async () => {
    await expect(generate(model, { ...base, steps: 2, strength: 0.3 }, { initImage: img(96, 64) })).rejects.toThrow(
      'steps 2 x strength 0.3 leaves no denoising step',
    );
  });
});

describe('generate: runs, events, cancellation', () => {
  it('non-square sizes come out height x width (NCHW is height first)', async () => {
    const r = await generate(model, { ...base, width: 96, height: 32 });
    expect([r.images[0]!.width, r.images[0]!.height]).toEqual([96, 32]);
  });
  it('reports stage and step events with session time apart from overhead', async () => {
    const events: string[] = [];
    const r = await generate(model, { ...base, steps: 3, scheduler: 'ddim' }, { onEvent: (e) => events.push(e.type === 'stage' ? e.stage : `step ${e.step}/${e.steps}`) });
    expect(events).toEqual(['text-encoder', 'step 1/3', 'step 2/3', 'step 3/3', 'denoise', 'vae-decoder']);
    expect(r.timings.stepMs).toHaveLength(3);
    expect(r.timings.onnxMs).toBeGreaterThan(0);
    expect(r.timings.onnxMs + r.timings.overheadMs).toBeCloseTo(r.timings.totalMs, 6);
  });
  it('the same seed gives the same image; another seed does not', async () => {
    const a = await generate(model, base), b = await generate(model, base), c = await generate(model, { ...base, seed: 2 });
    expect(a.images[0]!.data).toEqual(b.images[0]!.data);
    expect(a.images[0]!.data).not.toEqual(c.images[0]!.data);
  });
  it('cancellation stops at the next step and rejects with CancelledError', async () => {
    const abort = new AbortController();
    let steps = 0;
    const run = generate(model, { ...base, steps: 40 }, {
      signal: abort.signal,
      onEvent: (e) => {
        if (e.type === 'step' && ++steps === 2) abort.abort();
      },
    });
    await expect(run).rejects.toBeInstanceOf(CancelledError);
    expect(steps).toBe(2);
    // the model stays usable after a cancelled run
    await expect(generate(model, base)).resolves.toBeTruthy();
  });
});

describe('no garbage saved as success: non-finite values stop the run, naming where', () => {
  const withGraph = async (part: string, value: number, fn: (m: LoadedModel) => Promise<void>) => {
    const m = await loadModel(modelCopy(FIXTURE_MODEL, { graphs: { [part]: timesConstant(value) } }));
    try {
      await fn(m);
    } finally {
      await m.release();
    }
  };
  it('a UNet whose output turns NaN: the step is named', async () => {
    await withGraph('unet', Number.NaN, async (m) => {
      await expect(generate(m, { ...base, steps: 3, scheduler: 'euler' })).rejects.toThrow('latents became non-finite at step 1 of 3 (NaN): check the LoRA weights / scheduler config');
    });
  });
  it('a UNet whose output overflows to Inf', async () => {
    await withGraph('unet', Number.POSITIVE_INFINITY, async (m) => {
      await expect(generate(m, { ...base, steps: 3, scheduler: 'ddim' })).rejects.toThrow(/latents became non-finite at step 1 of 3 \((NaN|Inf)\)/);
    });
  });
  it('a VAE decoder whose output is NaN: no black image', async () => {
    await withGraph('vae_decoder', Number.NaN, async (m) => {
      await expect(generate(m, base)).rejects.toThrow('vae_decoder/model.onnx: the decoded image 1 of 1 is non-finite (NaN)');
    });
  });
});

describe('run requests: limits and image refs are checked before any work', () => {
  const engine = new Engine(mkdtempSync(join(tmpdir(), 'refs-')));
  afterAll(() => engine.release());
  const run = (extra: object, params: object = {}) => engine.run({ model: FIXTURE_MODEL, params: { ...base, ...params }, variant: {}, ...extra });
  it('prompt, negative prompt and size limits', async () => {
    await expect(run({}, { prompt: 'x'.repeat(4001) })).rejects.toThrow('params.prompt: prompt must be at most 4000 characters');
    await expect(run({}, { negativePrompt: 'x'.repeat(4001) })).rejects.toThrow('params.negativePrompt: negative prompt must be at most 4000 characters');
    await expect(run({}, { width: 8192 })).rejects.toThrow('params.width: width must be <= 4096');
    await expect(run({}, { height: 4104 })).rejects.toThrow('params.height: height must be <= 4096');
  });
  it('a bad ref, a hash without an image store, a missing file', async () => {
    await expect(run({ inputs: { initImage: { sha256: 'abc' } } })).rejects.toThrow('inputs.initImage');
    await expect(run({ inputs: { initImage: { sha256: 'a'.repeat(64) } } })).rejects.toThrow('initImage: image sha256:aaaaaaaaaaaa…: no image store here');
    await expect(run({ inputs: { initImage: { path: '/nonexistent/init.png' } } })).rejects.toThrow('initImage: /nonexistent/init.png: cannot read the image');
  });
  it('a mask without an init image, or a control image, is refused by the SD pipeline, not ignored', async () => {
    const png = join(mkdtempSync(join(tmpdir(), 'mask-')), 'm.png');
    writePng(png, toRgb8(img(64, 64)));
    await expect(run({ inputs: { mask: { path: png } } })).rejects.toThrow('a mask needs an init image');
    await expect(run({ inputs: { initImage: { path: png }, controlImage: { path: png } } })).rejects.toThrow('a control image was given but no ControlNet');
  });
  it('an init image by path runs img2img, with a resolver the host provides', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'store-'));
    writePng(join(dir, `${'b'.repeat(64)}.png`), toRgb8(img(64, 64)));
    const { result } = await engine.run(
      { model: FIXTURE_MODEL, params: { ...base, steps: 4, strength: 0.5, scheduler: 'ddim' }, variant: {}, inputs: { initImage: { sha256: 'b'.repeat(64) } } },
      { resolveImage: (ref) => ('sha256' in ref ? join(dir, `${ref.sha256}.png`) : ref.path) },
    );
    expect(result.params).toMatchObject({ strength: 0.5, width: 64, height: 64 });
    expect(result.timings.stepMs).toHaveLength(2);
  });
});
