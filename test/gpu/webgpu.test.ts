/**
 * The WebGPU provider against the CPU on the tiny fixtures: same latents and images within fp32
 * tolerance, and the host transfers per step the GPU-resident loop promises (the CFG combine and
 * the scheduler step run on the GPU: engine/pipeline/resident.ts). Locally it skips without a
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
import { FIXTURE_MODEL, maxAbsDiff } from '../parity/reference';

const webgpu = await probeProvider('webgpu');
if (!webgpu.available && !process.env.CI) console.warn(`webgpu tests skipped: no WebGPU adapter (${webgpu.reason}). In CI (CI set) they run and fail instead.`);

const dir = mkdtempSync(join(tmpdir(), 'webgpu-'));
const engine = new Engine(join(dir, 'cache'));
afterAll(() => engine.release());
const initPng = join(dir, 'init.png');
writePng(initPng, toRgb8({ width: 32, height: 32, data: Float32Array.from({ length: 32 * 32 * 3 }, (_, i) => (i % 97) / 97) }));
const LORA = join(FIXTURE_MODEL, '..', 'loras', 'tiny-lora-kohya.safetensors');
const SDXL = join(FIXTURE_MODEL, '..', 'tiny-sdxl');

/**
 * `previews: false`: no onLatents, so the resident loop downloads the latents only at the end.
 * `condText`: steps where a graph first runs without guidance (CFG truncation): it uploads the conditional text half.
 * `textFeeds`: conditioning feeds uploaded once (SDXL: encoder_hidden_states, text_embeds, time_ids).
 */
interface Case {
  name: string; model?: string; params: Record<string, unknown>; variant: Record<string, unknown>; inputs?: Record<string, unknown>;
  previews?: boolean; condText?: number[]; textFeeds?: number;
}
const base = { prompt: 'a red cube', negativePrompt: 'blurry', seed: 7, guidance: 7.5, width: 32, height: 32, scheduler: 'euler' };
const CASES: Case[] = [
  { name: 'txt2img', params: { ...base, steps: 3 }, variant: {} },
  { name: 'img2img', params: { ...base, steps: 4, strength: 0.5 }, variant: {}, inputs: { initImage: { path: initPng } } },
  { name: 'DeepCache N=2 branch 0', params: { ...base, steps: 4 }, variant: { deepcache: { interval: 2, branch: 0 } } },
  // DDIM's resident step is this case's too
  { name: 'LoRA, ddim step', params: { ...base, steps: 3, scheduler: 'ddim' }, variant: { loras: [{ path: LORA, weight: 0.8 }] } },
  { name: 'euler-a step (noise uploaded)', params: { ...base, steps: 3, scheduler: 'euler-a' }, variant: {} },
  { name: 'dpm++ 2m step (previous x0 on the GPU)', params: { ...base, steps: 4, scheduler: 'dpmpp-2m' }, variant: {} },
  { name: 'CFG truncation (the step graph drops the batch)', params: { ...base, steps: 4, scheduler: 'dpmpp-2m-karras' }, variant: { cfgTruncation: 0.5 }, condText: [2] },
  // full steps 0, 2; the UNet and then the shallow graph run unguided from step 2; the cached feature's conditional half is sliced on the GPU
  { name: 'DeepCache with CFG truncation', params: { ...base, steps: 4 }, variant: { deepcache: { interval: 2, branch: 0 }, cfgTruncation: 0.5 }, condText: [2, 3] },
  { name: 'no previews', params: { ...base, steps: 3 }, variant: {}, previews: false },
  { name: 'pndm (host step)', params: { ...base, steps: 3, scheduler: 'pndm' }, variant: {} },
  { name: 'SDXL, non-square', model: SDXL, params: { ...base, width: 64, height: 48, steps: 3 }, variant: {}, textFeeds: 3 },
];

/** The GPU-resident loop's schedulers (a linear step); the others step on the host. */
const RESIDENT = new Set(['ddim', 'euler', 'euler-a', 'dpmpp-2m', 'dpmpp-2m-karras', 'lcm']);

async function run(c: Case, provider: string) {
  const latents: Float32Array[] = [];
  const onLatents = c.previews === false ? undefined : (_: number, l: Float32Array) => latents.push(l.slice());
  const t0 = performance.now();
  const { result, images } = await engine.run({ model: c.model ?? FIXTURE_MODEL, params: c.params, variant: { ...c.variant, provider }, inputs: c.inputs ?? {} }, { onLatents });
  const stepMs = result.timings.stepMs, ms = (stepMs.slice(1).reduce((a, b) => a + b, 0) / Math.max(1, stepMs.length - 1)).toFixed(1);
  console.log(`${c.name} on ${provider}: ${ms} ms per step after the first (run ${(performance.now() - t0).toFixed(0)} ms), transfers per step ${JSON.stringify(result.timings.stepTransfers)}`);
  return { result, image: images[0]!.data, latents };
}

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
      // every step's latents where previews were asked for
      for (const [i, l] of cpu.latents.entries()) expect(maxAbsDiff(gpu.latents[i]!, l) / Math.max(1, ...l.map(Math.abs))).toBeLessThan(1e-3);
      expect(maxAbsDiff(gpu.image, cpu.image)).toBeLessThan(2e-3);
      expect(cpu.result.timings.stepTransfers!.every((n) => n === 0)).toBe(true);
      const steps = cpu.result.timings.stepMs.length, scheduler = String(c.params.scheduler);
      const full = new Set(gpu.result.fullSteps), firstCached = Array.from({ length: steps }, (_, i) => i).find((i) => !full.has(i));
      // every loop: the text embeddings go up once per graph (DeepCache's shallow graph on its
      // first cached step) and once more for their conditional half when guidance is dropped,
      // the timestep every step; the cached feature never leaves the GPU
      const text = (i: number) => (i === 0 ? (c.textFeeds ?? 1) : 0) + (i === firstCached ? 1 : 0) + (c.condText?.includes(i) ? 1 : 0);
      const previews = c.previews !== false;
      const expected = RESIDENT.has(scheduler)
        ? // resident: step 0 uploads the latents, the coefficient table, the step counter and the
          // first sample; then only the timestep, Euler-a's noise, and the latents for a preview
          // (without previews, once at the end)
          Array.from({ length: steps }, (_, i) => text(i) + 1 + (i === 0 ? 4 : 0) + (scheduler === 'euler-a' ? 1 : 0) + (previews || i === steps - 1 ? 1 : 0))
        : // host step: sample and timestep up, the prediction down
          Array.from({ length: steps }, (_, i) => text(i) + 3);
      expect(gpu.result.timings.stepTransfers).toEqual(expected);
      if (!RESIDENT.has(scheduler)) expect(gpu.result.notices).toEqual([`scheduler ${scheduler}: its step is not a linear map, so it runs on the host and the latents cross to the host every step`]);
      else expect(gpu.result.notices).toEqual(cpu.result.notices);
    }, 180_000); // the first WebGPU run compiles its shaders (~15 s on llvmpipe, more on a loaded box)
  }
});
