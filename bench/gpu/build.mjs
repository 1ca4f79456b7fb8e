#!/usr/bin/env node
// Bundles bench/gpu/main.ts for the GPU machine, which has node (the kit) but no node_modules:
// everything but onnxruntime-node (the kit links it) goes into .benchkit/bench-gpu.mjs (git-ignored).
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
await build({
  absWorkingDir: root, entryPoints: ['bench/gpu/main.ts'], outfile: '.benchkit/bench-gpu.mjs', bundle: true,
  platform: 'node', format: 'esm', target: 'node20', external: ['onnxruntime-node'], logLevel: 'warning', legalComments: 'none',
  // bundled CommonJS dependencies still call require() for node builtins
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
});
console.log('built .benchkit/bench-gpu.mjs');
