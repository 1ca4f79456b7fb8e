import ort from 'onnxruntime-node';
import { PROVIDERS, type Provider } from '../../app/variant';
import { identityModel } from '../onnx/model-proto';
import type { Acceleration } from './acceleration';

export interface ProviderStatus {
  id: Provider;
  available: boolean;
  reason?: string;
}

/** Which onnxruntime binding each provider needs, and the platforms it exists on. */
const PLATFORMS: Record<Provider, NodeJS.Platform[]> = {
  cpu: ['linux', 'darwin', 'win32'], webgpu: ['linux', 'darwin', 'win32'], cuda: ['linux', 'win32'],
  tensorrt: ['linux', 'win32'], dml: ['win32'], coreml: ['darwin'],
};

const probes = new Map<Provider, Promise<ProviderStatus>>();

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
      try {
        const s = await ort.InferenceSession.create(identityModel(), { executionProviders: [id], logSeverityLevel: 4 });
        await s.release();
        return { id, available: true };
      } catch (e) {
        const hint = backends.get(id) === false ? ' (its binaries are not installed: run `npm run setup:gpu`)' : '';
        return { id, available: false, reason: `${(e as Error).message.split('\n')[0]}${hint}` };
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
    } else if (ctx.variant.allowFallback) {
      ctx.provider = 'cpu';
      ctx.fellBack = true;
    } else {
      throw new Error(`execution provider ${status.id} is not available: ${status.reason}. Pick another provider or allow CPU fallback`);
    }
    ctx.sessionOptions.executionProviders = ctx.provider === 'cpu' ? ['cpu'] : [ctx.provider, 'cpu'];
  },
};
