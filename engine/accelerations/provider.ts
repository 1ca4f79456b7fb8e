import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import ort from 'onnxruntime-node';
import type { ProviderStatus } from '../../app/studio';
import { PROVIDERS, type Provider } from '../../app/variant';
import { diagnose } from '../../scripts/gpu-diagnose.mjs';
import { identityModel } from '../onnx/model-proto';
import type { Acceleration } from './acceleration';
import { probeWebgpuAdapter, providerLabel } from './webgpu-adapter';

export type { ProviderStatus };

/** Which onnxruntime binding each provider needs, and the platforms it exists on. */
const PLATFORMS: Record<Provider, NodeJS.Platform[]> = {
  cpu: ['linux', 'darwin', 'win32'], webgpu: ['linux', 'darwin', 'win32'], cuda: ['linux', 'win32'],
  tensorrt: ['linux', 'win32'], dml: ['win32'], coreml: ['darwin'],
};

const probes = new Map<Provider, Promise<ProviderStatus>>();

/** The provider libraries onnxruntime-node loads beside its binding (what `npm run setup:gpu` installs). */
const PROVIDER_LIBS: Partial<Record<Provider, string[]>> = {
  cuda: ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so'],
  tensorrt: ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_tensorrt.so'],
};
const SETUP_GPU = 'npm run setup:gpu';

function ortPackage(): { version: string; binDir: string } {
  const req = createRequire(import.meta.url);
  const root = dirname(req.resolve('onnxruntime-node/package.json'));
  return { version: (req('onnxruntime-node/package.json') as { version: string }).version, binDir: join(root, 'bin', 'napi-v6', process.platform, process.arch) };
}

/**
 * Why the CUDA or TensorRT provider cannot load, as `npm run setup:gpu` would say it (driver,
 * CUDA runtime, cuDNN, version): its files are checked before onnxruntime tries to load them, so
 * the usual case (not set up) prints nothing on stderr, and the reason is kept as text.
 */
function gpuSetupStatus(id: Provider, error?: string): ProviderStatus {
  const { version, binDir } = ortPackage();
  const absent = (PROVIDER_LIBS[id] ?? []).filter((f) => !existsSync(join(binDir, f)));
  const problems = process.platform === 'linux' ? diagnose(version).problems : [];
  if (absent.length) problems.unshift(`provider not installed: ${absent.join(', ')} missing from ${binDir}`);
  // each problem's lead ("no NVIDIA driver", "missing libcudart.so.12", "version mismatch") for the one-line reason
  const leads = problems.map((p) => p.split(':')[0]!);
  const what = absent.length ? 'not installed' : `onnxruntime could not load it (${error ?? 'no error text'})`;
  const reason = `${what}${leads.length > (absent.length ? 1 : 0) ? `; ${leads.slice(absent.length ? 1 : 0).join(', ')}` : ''}`;
  if (id === 'cuda') return { id, available: false, label: id, reason: `${reason}: run \`${SETUP_GPU}\``, problems, fix: SETUP_GPU };
  // setup:gpu installs the CUDA provider only; TensorRT's provider and libnvinfer come from NVIDIA's TensorRT
  return { id, available: false, label: id, reason: `${reason}: needs onnxruntime's TensorRT provider and NVIDIA TensorRT (libnvinfer), which ${SETUP_GPU} does not install`, problems };
}

/** Every provider's availability on this machine, with the reason for each one that is not. */
export function detectProviders(): Promise<ProviderStatus[]> {
  return Promise.all(PROVIDERS.map(probeProvider));
}

/**
 * A provider is available only if onnxruntime actually opens a session with it (a one-node graph);
 * otherwise we keep its error. Probed once per process.
 */
export function probeProvider(id: Provider): Promise<ProviderStatus> {
  let p = probes.get(id);
  if (!p) {
    p = (async (): Promise<ProviderStatus> => {
      if (!PLATFORMS[id].includes(process.platform)) return { id, available: false, reason: `not built for ${process.platform}` };
      const backends = new Map(ort.listSupportedBackends().map((b) => [b.name, b.bundled]));
      if (!backends.has(id)) return { id, available: false, reason: `this onnxruntime-node build has no ${id} provider` };
      const needsSetup = backends.get(id) === false;
      if (needsSetup && PROVIDER_LIBS[id]?.some((f) => !existsSync(join(ortPackage().binDir, f)))) return gpuSetupStatus(id);
      try {
        const s = await ort.InferenceSession.create(identityModel(), { executionProviders: [id], logSeverityLevel: 4 });
        await s.release();
        if (id !== 'webgpu') return { id, available: true, label: id };
        const adapter = await probeWebgpuAdapter();
        return { id, available: true, label: providerLabel(id, adapter), ...(adapter ? { adapter } : {}) };
      } catch (e) {
        const first = (e as Error).message.split('\n')[0]!;
        return needsSetup ? gpuSetupStatus(id, first) : { id, available: false, reason: first };
      }
    })();
    probes.set(id, p);
  }
  return p;
}

export const provider: Acceleration = {
  id: 'provider',
  enabled: () => true,
  sessionKey: (v) => [v.provider, v.allowFallback],
  async prepare(ctx) {
    const status = await probeProvider(ctx.variant.provider);
    if (status.available) {
      ctx.provider = status.id;
      ctx.providerLabel = status.label ?? status.id;
      if (status.adapter?.software) ctx.notes.provider = `provider ${status.label}`;
    } else if (ctx.variant.allowFallback) {
      ctx.provider = 'cpu';
      ctx.providerLabel = 'cpu';
      ctx.fellBack = true;
    } else {
      throw new Error(`execution provider ${status.id} is not available: ${status.reason}. Pick another provider or allow CPU fallback`);
    }
    ctx.sessionOptions.executionProviders = ctx.provider === 'cpu' ? ['cpu'] : [ctx.provider, 'cpu'];
  },
};
