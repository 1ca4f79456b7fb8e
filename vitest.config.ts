import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // onnxruntime sessions use native threads; forks isolate them per test file
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
