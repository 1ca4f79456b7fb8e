/**
 * onnxruntime-node 1.29's WebGPU Conv is wrong for 6, 9 and 15 input channels (scripts/webgpu-conv-check.ts:
 * llvmpipe and the H200's adapter alike); the engine pads such Convs on WebGPU (engine/onnx/conv-channel-pad.ts).
 * Skips without a WebGPU adapter locally; in CI it must run (as test/gpu/webgpu.test.ts).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../engine/engine';
import { probeProvider } from '../../engine/accelerations/provider';
import { writePng } from '../../engine/image/png';
import { toRgb8 } from '../../engine/image/rgb';
import { padConvChannels } from '../../engine/onnx/conv-channel-pad';
import { encodeModel } from '../../engine/onnx/model-proto';
import { convInput, convModel, maxAbsDiff, runConv } from '../../scripts/webgpu-conv-check';
import { FIXTURE_MODEL } from '../parity/reference';

const webgpu = await probeProvider('webgpu');

describe.skipIf(!webgpu.available && !process.env.CI)('WebGPU Conv input channels', () => {
  beforeAll(() => {
    if (!webgpu.available) throw new Error(`CI: the WebGPU provider must be available (Mesa's llvmpipe): ${webgpu.reason}`);
  });
  const dir = mkdtempSync(join(tmpdir(), 'webgpu-conv-'));
  const engine = new Engine(join(dir, 'cache'));
  afterAll(() => engine.release());

  for (const cin of [6, 9, 15]) {
    it(`${cin} channels: wrong as exported, equal to the CPU once padded`, async () => {
      const m = convModel(cin), plain = encodeModel(m), x = convInput(cin);
      const cpu = await runConv(plain, 'cpu', x);
      // the bug itself: if a later onnxruntime fixes it, this says the workaround can go
      expect(maxAbsDiff(await runConv(plain, 'webgpu', x), cpu)).toBeGreaterThan(1);
      const { model, report } = padConvChannels(onnxProto.onnx.ModelProto.fromObject(m), '');
      expect(report.padded).toEqual([`conv ${cin}->${Math.ceil(cin / 4) * 4}`]);
      expect(maxAbsDiff(await runConv(encodeModel(model), 'webgpu', x), cpu)).toBeLessThan(1e-4);
    }, 60_000);
  }

  it('9-channel inpainting UNet: the WebGPU image equals the CPU one, and the run says what was padded', async () => {
    const model = join(FIXTURE_MODEL, '..', 'tiny-sd-inpaint');
    const img = join(dir, 'init.png'), mask = join(dir, 'mask.png');
    writePng(img, toRgb8({ width: 32, height: 32, data: Float32Array.from({ length: 32 * 32 * 3 }, (_, i) => (i % 97) / 97) }));
    writePng(mask, toRgb8({ width: 32, height: 32, data: Float32Array.from({ length: 32 * 32 * 3 }, (_, i) => (Math.floor(i / 3) % 32 < 16 ? 1 : 0)) }));
    const req = (provider: string) => ({ model, params: { prompt: 'a red cube', seed: 7, steps: 3, guidance: 7.5, width: 32, height: 32, scheduler: 'ddim' }, variant: { provider }, inputs: { initImage: { path: img }, mask: { path: mask } } });
    const cpu = await engine.run(req('cpu')), gpu = await engine.run(req('webgpu'));
    expect(gpu.result.provider).toBe('webgpu');
    expect(gpu.result.summary).toMatch(/input channels padded for WebGPU's Conv.*unet .*9->12/);
    expect(maxAbsDiff(gpu.images[0]!.data, cpu.images[0]!.data)).toBeLessThan(2e-3);
  }, 180_000);
});
