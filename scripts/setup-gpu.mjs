#!/usr/bin/env node
// npm run setup:gpu [-- --dry-run] [--route cuda12|cuda13]
// Installs onnxruntime-node's CUDA execution provider for the installed onnxruntime-node, then opens a
// session with it to prove it loads; otherwise says what is missing (driver, CUDA runtime, cuDNN,
// version) and how to get it. Separate from `npm install`, which must work offline and never fails
// on a machine without a GPU (.npmrc skips onnxruntime-node's own CUDA download).
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CUDA13_PACKAGE, diagnose, explainLoadError, PROVIDER_FILES } from './gpu-diagnose.mjs';

export { addSearchPath, CUDA13_PACKAGE, explainLoadError, parseLdconfig, parseNvidiaSmi, plan, PROVIDER_FILES, ROUTES } from './gpu-diagnose.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ORT_DIR = join(ROOT, 'node_modules', 'onnxruntime-node');
export const BIN_DIR = join(ORT_DIR, 'bin', 'napi-v6', 'linux', 'x64');
function run(cmd, args, opts = {}) {
  return spawnSync(cmd, args, { encoding: 'utf8', ...opts });
}

/** Installs the provider files into onnxruntime-node's binary folder. */
function install(route) {
  if (route === 'cuda12') {
    // onnxruntime-node's own installer: Microsoft.ML.OnnxRuntime.Gpu.Linux from NuGet
    const r = run(process.execPath, [join(ORT_DIR, 'script', 'install.js'), '--onnxruntime-node-install=cuda12'], { stdio: 'inherit' });
    if (r.status !== 0) throw new Error('onnxruntime-node\'s CUDA 12 install failed (it downloads from api.nuget.org: is it reachable?)');
    return;
  }
  const tmp = mkdtempSync(join(tmpdir(), 'setup-gpu-'));
  try {
    const spec = `${CUDA13_PACKAGE.name}@${CUDA13_PACKAGE.version}`;
    console.log(`setup:gpu: fetching ${spec} (npm registry)`);
    const packed = run('npm', ['pack', '--silent', spec], { cwd: tmp });
    if (packed.status !== 0) throw new Error(`npm pack ${spec} failed: ${(packed.stderr || '').trim()}`);
    const tgz = readdirSync(tmp).find((f) => f.endsWith('.tgz'));
    execFileSync('tar', ['xzf', tgz, '-C', tmp, `${CUDA13_PACKAGE.dir}/${PROVIDER_FILES[0]}`, `${CUDA13_PACKAGE.dir}/${PROVIDER_FILES[1]}`], { cwd: tmp });
    for (const f of PROVIDER_FILES) copyFileSync(join(tmp, CUDA13_PACKAGE.dir, f), join(BIN_DIR, f));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Opens a CUDA session in a fresh process (the provider library loads once per process). */
function proveLoads() {
  const probe = "import('./engine/accelerations/provider.ts').then(async (m) => { const s = await m.probeProvider('cuda'); console.log(JSON.stringify(s)); })";
  const r = run(process.execPath, ['--import', 'tsx', '-e', probe], { cwd: ROOT });
  const line = (r.stdout || '').trim().split('\n').pop() || '';
  try {
    return JSON.parse(line);
  } catch {
    return { available: false, reason: (r.stderr || r.stdout || 'the probe printed nothing').trim() };
  }
}

async function main(argv) {
  const dry = argv.includes('--dry-run');
  const forced = argv.includes('--route') ? argv[argv.indexOf('--route') + 1] : undefined;
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    console.log(`setup:gpu: the CUDA provider is set up here for linux-x64 only (this is ${process.platform}-${process.arch}); on Windows onnxruntime-node ships DirectML, on macOS CoreML; WebGPU works everywhere`);
    return 0;
  }
  if (!existsSync(join(ORT_DIR, 'package.json'))) {
    console.error('setup:gpu: onnxruntime-node is not installed: run `npm install` first');
    return 1;
  }
  const ortVersion = JSON.parse(readFileSync(join(ORT_DIR, 'package.json'), 'utf8')).version;
  const { smi, route, problems } = diagnose(ortVersion, forced);
  console.log(`setup:gpu: onnxruntime-node ${ortVersion}; driver ${smi ? `${smi.driver} (CUDA ${smi.cudaMajor}.${smi.cudaMinor})` : 'not found'}; route ${route}`);
  for (const p of problems) console.log(`  - ${p}`);
  if (dry) return problems.length ? 1 : 0;
  if (problems.some((p) => p.startsWith('no NVIDIA driver') || p.startsWith('version mismatch'))) return 1;
  install(route);
  const status = proveLoads();
  if (status.available) {
    console.log(`setup:gpu: the CUDA provider loads (a session opened with it). Pick provider "cuda" in the studio or pass --provider cuda.`);
    return 0;
  }
  console.error(`setup:gpu: installed the ${route} provider into ${dirname(join(BIN_DIR, PROVIDER_FILES[0]))}, but it does not load:\n  ${explainLoadError(status.reason ?? '', route)}`);
  return 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).then((code) => process.exit(code), (e) => {
    console.error(`setup:gpu: ${e.message}`);
    process.exit(1);
  });
}
