/**
 * The WebGPU provider against the CPU on the tiny fixture: same images within fp32 tolerance,
 * and the host transfers per step the GPU-resident loop promises. Locally it skips without a
 * WebGPU adapter; in CI (CI set; .ci/run installs Mesa's llvmpipe Vulkan driver) it must run.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../engine/engine';
import { probeProvider } from '../../engine/accelerations/provider';
import { writePng } from '../../engine/image/png';
import { toRgb8 } from '../../engine/image/rgb';
import { FIXTURE_MODEL } from '../parity/reference';

const webgpu = await probeProvider('webgpu');
if (!webgpu.available && !process.env.CI) console.warn(`webgpu tests skipped: no WebGPU adapter (${webgpu.reason}). In CI (CI set) they run and fail instead.`);

const dir = mkdtempSync(join(tmpdir(), 'webgpu-'));
const engine = new Engine(join(dir, 'cache'));
afterAll(() => engine.release());
const initPng = join(dir, 'init.png');
writePng(initPng, toRgb8({ width: 32, height: 32, data: Float32Array.from({ length: 32 * 32 * 3 }, (_, i) => (i % 97) / 97) }));
const LORA = join(FIXTURE_MODEL, '..', 'loras', 'tiny-lora-kohya.safetensors');

interface Case { name: string; params: Record<string, unknown>; variant: Record<string, unknown>; inputs?: Record<string, unknown> }
const base = { prompt: 'a red cube', negativePrompt: 'blurry', seed: 7, guidance: 7.5, width: 32, height: 32, scheduler: 'euler' };
const CASES: Case[] = [
  { name: 'txt2img', params: { ...base, steps: 3 }, variant: {} },
  { name: 'img2img', params: { ...base, steps: 4, strength: 0.5 }, variant: {}, inputs: { initImage: { path: initPng } } },
  { name: 'DeepCache N=2 branch 0', params: { ...base, steps: 4 }, variant: { deepcache: { interval: 2, branch: 0 } } },
  { name: 'LoRA', params: { ...base, steps: 3, scheduler: 'ddim' }, variant: { loras: [{ path: LORA, weight: 0.8 }] } },
];

async function run(c: Case, provider: string) {
  const latents: Float32Array[] = [];
  const { result, images } = await engine.run({ model: FIXTURE_MODEL, params: c.params, variant: { ...c.variant, provider }, inputs: c.inputs ?? {} }, { onLatents: (_, l) => latents.push(l.slice()) });
  return { result, image: images[0]!.data, latents };
}

const maxDiff = (a: Float32Array, b: Float32Array): number => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i]!)), 0);

describe.skipIf(!webgpu.available && !process.env.CI)('webgpu equals cpu on the tiny fixture', () => {
  beforeAll(() => {
    if (!webgpu.available) throw new Error(`CI: the WebGPU provider must be available (Mesa's llvmpipe from bookworm-backports): ${webgpu.reason}`);
  });
  for (const c of CASES) {
    it(`${c.name}: latents and image within fp32 tolerance; host transfers per step as the resident loop promises`, async () => {
      const cpu = await run(c, 'cpu'), gpu = await run(c, 'webgpu');
      expect(gpu.result.provider).toBe('webgpu');
      // the adapter is named in the result; llvmpipe (CI) is a software adapter and says so
      expect(gpu.result.providerLabel).toBe(webgpu.label);
      if (webgpu.adapter?.name.startsWith('llvmpipe')) expect(gpu.result.providerLabel).toBe('webgpu — software adapter llvmpipe');
      expect(gpu.latents.length).toBe(cpu.latents.length);
      const last = cpu.latents.length - 1, scale = Math.max(1, ...cpu.latents[last]!.map(Math.abs));
      expect(maxDiff(gpu.latents[last]!, cpu.latents[last]!) / scale).toBeLessThan(1e-3);
      expect(maxDiff(gpu.image, cpu.image)).toBeLessThan(2e-3);
      expect(cpu.result.timings.stepTransfers!.every((n) => n === 0)).toBe(true);
      // per step: sample and timestep up, the prediction down; step 0 also uploads the text
      // embeddings (once per graph: DeepCache's shallow graph on its first cached step); the
      // cached feature never leaves the GPU
      const full = new Set(gpu.result.fullSteps), firstCached = gpu.latents.findIndex((_, i) => !full.has(i));
      const expected = gpu.latents.map((_, i) => 3 + (i === 0 ? 1 : 0) + (i === firstCached ? 1 : 0));
      expect(gpu.result.timings.stepTransfers).toEqual(expected);
    }, 180_000); // the first WebGPU run compiles its shaders (~15 s on llvmpipe, more on a loaded box)
  }
});
