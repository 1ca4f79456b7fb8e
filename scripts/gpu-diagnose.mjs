// What setup:gpu checks before it installs anything, as functions: the studio's provider probe
// (engine/accelerations/provider.ts) shows the same problems and the same fix. No side effects on import.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';

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

/**
 * This machine's driver (nvidia-smi), the libraries the linker finds (ldconfig -p, LD_LIBRARY_PATH)
 * and what stands between it and the CUDA provider of `ortVersion`.
 */
export function diagnose(ortVersion, route) {
  const smiRun = spawnSync('nvidia-smi', [], { encoding: 'utf8' });
  const smi = smiRun.status === 0 ? parseNvidiaSmi(smiRun.stdout) : null;
  const ld = spawnSync('ldconfig', ['-p'], { encoding: 'utf8' });
  const libs = addSearchPath(parseLdconfig(ld.status === 0 ? ld.stdout : ''), process.env.LD_LIBRARY_PATH);
  return { smi, ...plan({ ortVersion, smi, libs, route }) };
}
