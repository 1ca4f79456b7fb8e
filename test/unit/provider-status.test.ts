import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ProviderStatus } from '../../app/studio';
import { adapterFromLoaderLog, providerLabel } from '../../engine/accelerations/webgpu-adapter';

// the Vulkan loader's lines (VK_LOADER_DEBUG=driver) as this machine printed them, trailing spaces included
const LLVMPIPE = 'INFO | DRIVER:    linux_read_sorted_physical_devices:\nINFO | DRIVER:               [0] llvmpipe (LLVM 15.0.6, 256 bits)  \nDRIVER:                 /usr/share/vulkan/icd.d/lvp_icd.json\n';
const MIXED = 'INFO | DRIVER:    linux_read_sorted_physical_devices:\nINFO | DRIVER:               [0] llvmpipe (LLVM 15.0.6, 256 bits)\nINFO | DRIVER:               [1] NVIDIA H200\n';

describe('WebGPU adapter label', () => {
  it('a software adapter is labelled as such, never as a GPU', () => {
    const a = adapterFromLoaderLog(LLVMPIPE);
    expect(a).toEqual({ name: 'llvmpipe (LLVM 15.0.6, 256 bits)', software: true });
    expect(providerLabel('webgpu', a)).toBe('webgpu — software adapter llvmpipe');
  });
  it('a hardware device beside llvmpipe is the adapter (Dawn prefers it); no device listed: unidentified', () => {
    expect(adapterFromLoaderLog(MIXED)).toEqual({ name: 'NVIDIA H200', software: false });
    expect(providerLabel('webgpu', adapterFromLoaderLog(MIXED))).toBe('webgpu — adapter NVIDIA H200');
    expect(adapterFromLoaderLog('')).toBeUndefined();
    expect(providerLabel('webgpu', undefined)).toBe('webgpu (adapter not identified)');
    expect(providerLabel('cpu', undefined)).toBe('cpu');
  });
});

const ortBin = join(dirname(createRequire(import.meta.url).resolve('onnxruntime-node/package.json')), 'bin', 'napi-v6', process.platform, process.arch);
const cudaMissing = !existsSync(join(ortBin, 'libonnxruntime_providers_cuda.so'));

describe('provider probe', () => {
  // one child process: the probe's stderr is what a user sees on every start
  it('says what setup:gpu would say, with the command, and prints no onnxruntime errors', async () => {
    const code = "import('./engine/accelerations/provider.ts').then(async (m) => console.log(JSON.stringify(await m.detectProviders())))";
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '-e', code], { cwd: join(__dirname, '../..'), timeout: 90_000 });
    expect(stderr).not.toMatch(/\[E:onnxruntime/);
    const list = (JSON.parse(stdout.trim().split('\n').pop()!) as unknown[]).map((s) => ProviderStatus.parse(s));
    const cuda = list.find((s) => s.id === 'cuda')!;
    if (cudaMissing && process.platform === 'linux') {
      expect(cuda.available).toBe(false);
      expect(cuda.fix).toBe('npm run setup:gpu');
      expect(cuda.reason).toMatch(/^not installed.*: run `npm run setup:gpu`$/);
      expect(cuda.problems![0]).toMatch(/^provider not installed: .*libonnxruntime_providers_cuda\.so/);
      const trt = list.find((s) => s.id === 'tensorrt')!;
      expect(trt.fix).toBeUndefined();
      expect(trt.reason).toMatch(/does not install$/);
    }
    const webgpu = list.find((s) => s.id === 'webgpu')!;
    if (webgpu.available && webgpu.adapter?.software) expect(webgpu.label).toMatch(/^webgpu — software adapter /);
  }, 120_000);
});
