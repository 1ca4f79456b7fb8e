#!/usr/bin/env node
// Bundles the desktop app's node-side code with esbuild: the main process (ESM), the sandboxed
// preload (CommonJS, self-contained: a sandboxed preload can require only 'electron') and the
// engine host (ESM). onnxruntime-node stays external: its native files are unpacked from the asar.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
// bundled CommonJS dependencies still call require() for node builtins
const requireShim = "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);";
const common = { absWorkingDir: root, bundle: true, platform: 'node', target: 'node20', sourcemap: 'linked', logLevel: 'warning', legalComments: 'none' };

await Promise.all([
  build({ ...common, entryPoints: ['main/electron/main.ts'], outfile: 'dist/main/electron/main.js', format: 'esm', external: ['electron', 'onnxruntime-node'], banner: { js: requireShim } }),
  build({ ...common, entryPoints: ['main/electron/preload.ts'], outfile: 'dist/main/electron/preload.cjs', format: 'cjs', external: ['electron'] }),
  build({ ...common, entryPoints: ['main/engine-host/engine-process.ts'], outfile: 'dist/main/engine-host/engine-process.mjs', format: 'esm', external: ['onnxruntime-node'], banner: { js: requireShim } }),
]);
console.log('built dist/main (electron main, preload, engine host)');
