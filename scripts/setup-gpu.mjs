#!/usr/bin/env node
// npm run setup:gpu [-- --dry-run] [--route cuda12|cuda13]
// Installs onnxruntime-node's CUDA execution provider for the installed onnxruntime-node, then opens a
// session with it to prove it loads; otherwise says what is missing (driver, CUDA runtime, cuDNN,
// version) and how to get it. Separate from `npm install`, which must work offline and never fails
// on a machine without a GPU (.npmrc skips onnxruntime-node's own CUDA download).
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ORT_DIR = join(ROOT, 'node_modules', 'onnxruntime-node');
export const BIN_DIR = join(ORT_DIR, 'bin', 'napi-v6', 'linux', 'x64');
/** ORT 1.29.0's CUDA provider built for CUDA 13 (onnxruntime-node's own route has CUDA 12 only). */
export const CUDA13_PACKAGE = { name: 'com.github.asus4.onnxruntime.linux-x64-gpu', version: '0.4.9', ort: '1.29.0', dir: 'package/Plugins/Linux/x64' };
export const PROVIDER_FILES = ['libonnxruntime_providers_cuda.so', 'libonnxruntime_providers_shared.so'];

/** The shared libraries each route's provider loads (its NEEDED entries, plus cuDNN, which it opens itself). */
export const ROUTES = {
  cuda12: { cuda: 12, libs: ['libcuda.so.1', 'libcudart.so.12', 'libcublas.so.12', 'libcublasLt.so.12', 'libcurand.so.10', 'libcufft.so.11', 'libcudnn.so.9'] },
  cuda13: { cuda: 13, libs: ['libcuda.so.1', 'libcudart.so.13', 'libcublas.so.13', 'libcublasLt.so.13', 'libcurand.so.10', 'libcudnn.so.9'] },
};

/** Where each library comes from, for the message that names it. */
const HOW = {
  'libcuda.so.1': () => 'the NVIDIA driver (libcuda.so.1): install the driver for your GPU (Debian/Ubuntu: `apt install nvidia-driver`, or NVIDIA\'s installer) and check that `nvidia-smi` works',
  libcudart: (v) => `the CUDA ${v} runtime: NVIDIA's CUDA Toolkit ${v} (apt package cuda-cudart-${v}-*) or \`pip install nvidia-cuda-runtime${v === 12 ? '-cu12' : ''}\``,
  libcublas: (v) => `cuBLAS for CUDA ${v}: apt package libcublas-${v}-* or \`pip install nvidia-cublas${v === 12 ? '-cu12' : ''}\``,
  libcublasLt: (v) => HOW.libcublas(v),
  libcurand: (v) => `cuRAND for CUDA ${v}: apt package libcurand-${v}-* or \`pip install nvidia-curand${v === 12 ? '-cu12' : ''}\``,
  libcufft: (v) => `cuFFT for CUDA ${v}: apt package libcufft-${v}-* or \`pip install nvidia-cufft${v === 12 ? '-cu12' : ''}\``,
  libcudnn: (v) => `cuDNN 9 for CUDA ${v}: apt package libcudnn9-cuda-${v} or \`pip install nvidia-cudnn-cu${v}\``,
};

/** What `nvidia-smi` says: driver version and the newest CUDA it supports; null when it gave nothing. */
export function parseNvidiaSmi(text) {
  const driver = /Driver Version:\s*([\d.]+)/.exec(text)?.[1];
  const cuda = /CUDA Version:\s*(\d+)\.(\d+)/.exec(text);
  if (!driver || !cuda) return null;
  return { driver, cudaMajor: Number(cuda[1]), cudaMinor: Number(cuda[2]) };
}

/** `ldconfig -p` as library name -> paths (64-bit x86 entries: the provider is linux-x64). */
export function parseLdconfig(text) {
  const libs = new Map();
  for (const line of text.split('\n')) {
    const m = /^\s*(\S+)\s+\(([^)]*)\)\s+=>\s+(\S+)/.exec(line);
    if (!m || !m[2].includes('x86-64')) continue;
    libs.set(m[1], [...(libs.get(m[1]) ?? []), m[3]]);
  }
  return libs;
}

/** Adds the libraries found in LD_LIBRARY_PATH folders (pip's nvidia-* wheels live there, not in ldconfig). */
export function addSearchPath(libs, ldLibraryPath, list = (d) => (existsSync(d) ? readdirSync(d) : [])) {
  for (const dir of (ldLibraryPath ?? '').split(delimiter).filter(Boolean)) {
    for (const f of list(dir)) if (/\.so(\.\d+)*$/.test(f) && !libs.has(f)) libs.set(f, [join(dir, f)]);
  }
  return libs;
}

/**
 * Which provider build to install: CUDA 13 drivers get ORT 1.29.0's CUDA 13 build (when that is the
 * installed version), others onnxruntime-node's own CUDA 12 route. Returns the route and every
 * problem found, each with how to fix it.
 */
export function plan({ ortVersion, smi, libs, route: forced }) {
  const problems = [];
  const noDriver = !smi && !libs.has('libcuda.so.1');
  if (noDriver) problems.push(`no NVIDIA driver: \`nvidia-smi\` is missing or failed and libcuda.so.1 is not in the linker cache. Needs ${HOW['libcuda.so.1']()}`);
  const route = forced ?? (smi && smi.cudaMajor >= 13 && ortVersion === CUDA13_PACKAGE.ort ? 'cuda13' : 'cuda12');
  if (!ROUTES[route]) throw new Error(`--route ${route}: expected cuda12 or cuda13`);
  if (route === 'cuda13' && ortVersion !== CUDA13_PACKAGE.ort) {
    problems.push(`version mismatch: the CUDA 13 provider (${CUDA13_PACKAGE.name}@${CUDA13_PACKAGE.version}) is built for onnxruntime-node ${CUDA13_PACKAGE.ort}, installed is ${ortVersion}. Use --route cuda12, or pin onnxruntime-node ${CUDA13_PACKAGE.ort}`);
  }
  const need = ROUTES[route].cuda;
  if (smi && smi.cudaMajor < need) {
    problems.push(`driver too old: driver ${smi.driver} supports CUDA up to ${smi.cudaMajor}.${smi.cudaMinor}; the ${route} provider needs a driver for CUDA ${need} or newer (update the NVIDIA driver)`);
  }
  for (const lib of ROUTES[route].libs) {
    if (libs.has(lib) || (lib === 'libcuda.so.1' && noDriver)) continue;
    problems.push(`missing ${lib}: needs ${how(lib, need)}; if it is installed, add its folder to LD_LIBRARY_PATH`);
  }
  return { route, problems };
}

/** Where a library comes from. */
const how = (lib, cuda) => (HOW[lib] ?? HOW[lib.replace(/\.so.*$/, '')])?.(cuda);

/** Turns onnxruntime's load error into the library it could not open and where that comes from. */
export function explainLoadError(message, route) {
  const lib = /(lib[\w+-]+\.so[.\d]*): cannot open shared object file/.exec(message)?.[1];
  if (!lib) return message;
  const where = how(lib, ROUTES[route].cuda);
  return `${message.split('\n')[0]}\n  -> ${lib} is not found${where ? `: needs ${where}` : ''}; if it is installed, add its folder to LD_LIBRARY_PATH`;
}

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
  const smiRun = run('nvidia-smi', []);
  const smi = smiRun.status === 0 ? parseNvidiaSmi(smiRun.stdout) : null;
  const ld = run('ldconfig', ['-p']);
  const libs = addSearchPath(parseLdconfig(ld.status === 0 ? ld.stdout : ''), process.env.LD_LIBRARY_PATH);
  const { route, problems } = plan({ ortVersion, smi, libs, route: forced });
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
