import { defineConfig } from 'vitest/config';

/**
 * One fresh process per file: servers, browsers, GPU devices, and module state that must be new
 * (toy-acceleration registers before the Variant schema is first built).
 */
const ISOLATED = ['test/e2e/**/*.test.ts', 'test/corpus/**/*.test.ts', 'test/fault/**/*.test.ts', 'test/gpu/**/*.test.ts', 'test/unit/toy-acceleration.test.ts'];

export default defineConfig({
  test: {
    // onnxruntime sessions use native threads; forks keep them out of worker threads
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    projects: [
      { extends: true, test: { name: 'isolated', include: ISOLATED } },
      {
        extends: true,
        // the other unit and parity files share one process and its module cache: a fresh fork per file cost
        // ~1 s (process start, onnxruntime and the engine imported again), a minute over the suite on 2 cores
        test: { name: 'shared', include: ['test/**/*.test.ts'], exclude: ISOLATED, poolOptions: { forks: { singleFork: true, isolate: false } } },
      },
    ],
  },
});
