import { describe, expect, it } from 'vitest';
// @ts-expect-error plain ESM script without types
import { addSearchPath, explainLoadError, parseLdconfig, parseNvidiaSmi, plan, ROUTES } from '../../scripts/setup-gpu.mjs';

// the header of `nvidia-smi` as the H200 machine printed it (driver 580, CUDA 13.0)
const SMI_13 = `Tue Dec  1 22:50:01 2026
+-----------------------------------------------------------------------------------------+
| NVIDIA-SMI 580.159.04             Driver Version: 580.159.04     CUDA Version: 13.0     |
|-----------------------------------------+------------------------+----------------------+
|   0  NVIDIA H200                    On  |   00000000:00:07.0 Off |                    0 |`;
const SMI_12 = '| NVIDIA-SMI 550.54.15              Driver Version: 550.54.15      CUDA Version: 12.4     |';
const SMI_11 = '| NVIDIA-SMI 470.223.02   Driver Version: 470.223.02   CUDA Version: 11.4     |';

const ldconfig = (libs: string[]) =>
  [`${libs.length + 1} libs found in cache \`/etc/ld.so.cache'`, ...libs.map((l) => `\t${l} (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/${l}`), '\tlibc.so.6 (libc6,x86-64) => /lib/x86_64-linux-gnu/libc.so.6'].join('\n');
const all = (route: 'cuda12' | 'cuda13') => parseLdconfig(ldconfig(ROUTES[route].libs)) as Map<string, string[]>;

describe('setup:gpu detection', () => {
  it('reads the driver and its CUDA version from nvidia-smi', () => {
    expect(parseNvidiaSmi(SMI_13)).toEqual({ driver: '580.159.04', cudaMajor: 13, cudaMinor: 0 });
    expect(parseNvidiaSmi(SMI_12)).toEqual({ driver: '550.54.15', cudaMajor: 12, cudaMinor: 4 });
    expect(parseNvidiaSmi('NVIDIA-SMI has failed because it couldn\'t communicate with the NVIDIA driver.')).toBeNull();
  });

  it('reads 64-bit libraries from ldconfig -p and ignores 32-bit ones', () => {
    const libs = parseLdconfig(`\tlibcuda.so.1 (libc6) => /usr/lib/i386-linux-gnu/libcuda.so.1\n\tlibcudart.so.13 (libc6,x86-64) => /usr/local/cuda/lib64/libcudart.so.13`);
    expect([...libs.keys()]).toEqual(['libcudart.so.13']);
    expect(libs.get('libcudart.so.13')).toEqual(['/usr/local/cuda/lib64/libcudart.so.13']);
  });

  it('adds libraries from LD_LIBRARY_PATH folders (pip wheels) without shadowing ldconfig', () => {
    const listing: Record<string, string[]> = { '/venv/nvidia/cu13/lib': ['libcudnn.so.9', 'libcublas.so.13', 'README'], '/other': ['libcudart.so.13'] };
    const libs = addSearchPath(parseLdconfig(ldconfig(['libcudart.so.13'])), '/venv/nvidia/cu13/lib:/other', (d: string) => listing[d] ?? []);
    expect(libs.get('libcudnn.so.9')).toEqual(['/venv/nvidia/cu13/lib/libcudnn.so.9']);
    expect(libs.has('README')).toBe(false);
    expect(libs.get('libcudart.so.13')).toEqual(['/usr/lib/x86_64-linux-gnu/libcudart.so.13']);
  });
});

describe('setup:gpu plan', () => {
  it('takes the CUDA 13 package for a CUDA 13 driver with onnxruntime-node 1.29.0, and finds nothing missing when all is there', () => {
    expect(plan({ ortVersion: '1.29.0', smi: parseNvidiaSmi(SMI_13), libs: all('cuda13') })).toEqual({ route: 'cuda13', problems: [] });
  });

  it("takes onnxruntime-node's own CUDA 12 route for a CUDA 12 driver, or for another onnxruntime-node version", () => {
    expect(plan({ ortVersion: '1.29.0', smi: parseNvidiaSmi(SMI_12), libs: all('cuda12') })).toEqual({ route: 'cuda12', problems: [] });
    expect(plan({ ortVersion: '1.30.0', smi: parseNvidiaSmi(SMI_13), libs: all('cuda12') }).route).toBe('cuda12');
  });

  it('says there is no driver when nvidia-smi fails and libcuda is absent, and how to get one', () => {
    const libs = all('cuda12');
    libs.delete('libcuda.so.1');
    const { problems } = plan({ ortVersion: '1.29.0', smi: null, libs });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^no NVIDIA driver: .*nvidia-smi.*libcuda\.so\.1.*install the driver/);
    // a driver that nvidia-smi cannot reach but whose libcuda is installed is not reported missing
    expect(plan({ ortVersion: '1.29.0', smi: null, libs: all('cuda12') }).problems).toEqual([]);
  });

  it('names each missing CUDA runtime library and cuDNN with where it comes from', () => {
    const libs = all('cuda13');
    libs.delete('libcudnn.so.9');
    libs.delete('libcublasLt.so.13');
    const { problems } = plan({ ortVersion: '1.29.0', smi: parseNvidiaSmi(SMI_13), libs });
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/^missing libcublasLt\.so\.13: needs cuBLAS for CUDA 13/);
    expect(problems[1]).toMatch(/^missing libcudnn\.so\.9: needs cuDNN 9 for CUDA 13: .*nvidia-cudnn-cu13/);
  });

  it('reports a driver too old for the route and a version mismatch when the CUDA 13 build is forced', () => {
    expect(plan({ ortVersion: '1.29.0', smi: parseNvidiaSmi(SMI_11), libs: all('cuda12') }).problems[0]).toMatch(/^driver too old: driver 470\.223\.02 supports CUDA up to 11\.4/);
    expect(plan({ ortVersion: '1.30.0', smi: parseNvidiaSmi(SMI_13), libs: all('cuda13'), route: 'cuda13' }).problems[0]).toMatch(/^version mismatch: .*onnxruntime-node 1\.29\.0, installed is 1\.30\.0/);
    expect(() => plan({ ortVersion: '1.29.0', smi: null, libs: new Map(), route: 'cuda11' })).toThrow(/--route cuda11: expected cuda12 or cuda13/);
  });

  it("explains onnxruntime's load error by the library it could not open", () => {
    const msg = 'Failed to load library libonnxruntime_providers_cuda.so with error: libcublasLt.so.13: cannot open shared object file: No such file or directory';
    expect(explainLoadError(msg, 'cuda13')).toMatch(/-> libcublasLt\.so\.13 is not found: needs cuBLAS for CUDA 13/);
    expect(explainLoadError('CUDA failure 35: CUDA driver version is insufficient', 'cuda13')).toBe('CUDA failure 35: CUDA driver version is insufficient');
  });
});
