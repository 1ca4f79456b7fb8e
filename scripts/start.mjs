#!/usr/bin/env node
// `npm start`: the desktop app where Electron's binary is installed; otherwise (offline installs:
// electron is an optional dependency and its binary download fails) serve mode, with the URL
// printed to open in a browser. Extra arguments pass through (e.g. `npm start -- --workspace dir`).
import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);

/** The Electron binary's path (what require('electron') gives in Node), or why there is none. */
function electronBinary() {
  try {
    const path = createRequire(import.meta.url)('electron');
    return typeof path === 'string' ? { path } : { why: 'the electron package did not give a binary path' };
  } catch (e) {
    return { why: String(e.message).split('\n')[0] };
  }
}

function run(cmd, argv) {
  const child = spawn(cmd, argv, { cwd: root, stdio: 'inherit' });
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}

const electron = electronBinary();
if (electron.path) {
  const step = (argv) => {
    const r = spawnSync(process.execPath, argv, { cwd: root, stdio: 'inherit' });
    if (r.status !== 0) process.exit(r.status ?? 1);
  };
  step(['--import', 'tsx', '-e', "import('./main/host/build-renderer.ts').then((m) => m.ensureRenderer(process.cwd()))"]);
  step(['scripts/build-electron.mjs']);
  run(electron.path, ['.', ...args]);
} else {
  console.error(`Electron is not available (${electron.why}); starting serve mode instead: open the URL below in a browser.`);
  run(process.execPath, ['--import', 'tsx', 'main/host/serve.ts', ...args]);
}
