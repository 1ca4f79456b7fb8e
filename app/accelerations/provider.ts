import { z } from 'zod';
import { defineAcceleration } from './descriptor';

export const PROVIDERS = ['cpu', 'webgpu', 'cuda', 'tensorrt', 'dml', 'coreml'] as const;
export const Provider = z.enum(PROVIDERS);
export type Provider = z.infer<typeof Provider>;

export const provider = defineAcceleration({
  id: 'provider',
  description: 'the onnxruntime execution provider, and whether to run on the CPU when it is unavailable',
  options: {
    provider: Provider.default('cpu'),
    /** Run on the CPU when the provider is unavailable (the result records what actually ran). */
    allowFallback: z.boolean().default(false),
  },
  summary: (o) => `provider ${o.provider}${o.allowFallback ? ' (CPU fallback allowed)' : ''}`,
  editor: {
    fields: [
      { kind: 'select', key: 'provider', label: 'Provider', choices: PROVIDERS, availability: true },
      { kind: 'checkbox', key: 'allowFallback', label: 'CPU fallback' },
    ],
  },
  flags: [
    { flags: '--provider <name>', help: 'execution provider', choices: PROVIDERS },
    { flags: '--allow-fallback', help: 'run on the CPU when the provider is unavailable (the result says so)' },
  ],
});
