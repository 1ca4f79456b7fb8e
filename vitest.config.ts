import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

/**
 * One fresh process per file: servers, browsers, GPU devices, and module state that must be new
 * (toy-acceleration registers before the Variant schema is first built).
 */
const ISOLATED = ['test/e2e/**/*.test.ts', 'test/corpus/**/*.test.ts', 'test/fault/**/*.test.ts', 'test/gpu/**/*.test.ts', 'test/unit/toy-acceleration.test.ts'];
/**
 * Files of several seconds each (measured 3-21 s on 2 cores) get forks of their own too: vitest 3
 * runs the shared fork's files only after every other file, on one worker, so what stays in it is
 * a serial tail (it was 190 s of a 354 s suite; with these moved out, ~30 s).
 */
const HEAVY = [
  'test/parity/{accelerations,sdxl,inpaint,pipeline,controlnet,controlnet-lora}.test.ts',
  'test/unit/{accelerations-matrix,cli,cli-inpaint,cli-sdxl,cli-controlnet,controlnet-emoji,deepcache,embedded-model,float-io,fp16-io,fused-attention,grid,lora,precision,sd-fusions,sd-fusions-rewiring,sdxl,studio-history,studio-host,studio-verdict}.test.ts',
  // 1.5-4 s each (2026-12-03): in the shared fork they were a 30 s serial tail with the other worker idle
  'test/unit/{bench-gpu-report,controlnet,generate-inputs,lora-sgm,model-folder,studio-inputs,studio-serve,tf32}.test.ts',
];

export default defineConfig({
  test: {
    // onnxruntime sessions use native threads; forks keep them out of worker threads
    pool: 'forks',
    // vitest's default on 2 cores is 1 worker; much of an e2e file is waiting on Chromium and the server
    maxWorkers: Math.max(2, availableParallelism() - 1),
    // the renderer built once for the e2e files (test/support/global-setup.ts)
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // llvmpipe (CI's WebGPU adapter) compiles every shader with LLVM, and a clean machine has no shader
    // cache: with 128-bit vectors the tiny UNet's first WebGPU run compiles in 24 s instead of 63 s
    // and two forks on 2 cores: onnxruntime's spinning threads took ~28% of the CPU (engine/model/onnx-session.ts)
    env: { LP_NATIVE_VECTOR_WIDTH: process.env.LP_NATIVE_VECTOR_WIDTH ?? '128', STUDIO_ORT_SPINNING: '0' },
    projects: [
      { extends: true, test: { name: 'isolated', include: [...ISOLATED, ...HEAVY] } },
      {
        extends: true,
        // the other unit and parity files share one process and its module cache: a fresh fork per file cost
        // ~1 s (process start, onnxruntime and the engine imported again)
        test: { name: 'shared', include: ['test/**/*.test.ts'], exclude: [...ISOLATED, ...HEAVY], poolOptions: { forks: { singleFork: true, isolate: false } } },
      },
    ],
  },
});
