import { z } from 'zod';
import { defineAcceleration, parseInteger, parseNumber } from '../../../app/accelerations/descriptor';

/** A toy acceleration for test/unit/toy-acceleration.test.ts: scales the guidance, and sets onnxruntime's thread count. */
export const ToyOptions = z
  .object({
    factor: z.number().min(0.25, 'toy.factor must be >= 0.25').max(4, 'toy.factor must be <= 4').default(1.5),
    threads: z.number().int().min(1).max(8).default(1),
  })
  .strict();
export type ToyOptions = z.infer<typeof ToyOptions>;

export const toyDescriptor = defineAcceleration({
  id: 'toy',
  description: 'toy boost: guidance times a factor, sessions with their own thread count',
  options: { toy: ToyOptions.optional() },
  summary: ({ toy }) => (toy ? `toy boost ×${toy.factor} (${toy.threads} thread${toy.threads > 1 ? 's' : ''})` : ''),
  off: 'no toy boost',
  editor: {
    group: {
      key: 'toy', label: 'Toy boost', defaults: { factor: 1.5, threads: 1 },
      fields: [
        { kind: 'number', key: 'factor', label: 'Guidance factor', min: 0.25, max: 4, step: 0.25 },
        { kind: 'select', key: 'threads', label: 'Threads', choices: [1, 2, 4, 8] },
      ],
    },
  },
  flags: [
    { flags: '--toy-factor <x>', help: 'toy boost: multiply the guidance by x', parse: parseNumber('--toy-factor'), apply: (factor: number, v) => ({ toy: { ...(v.toy as object | undefined), factor } }) },
    { flags: '--toy-threads <n>', help: 'toy boost: onnxruntime threads per session', parse: parseInteger('--toy-threads'), apply: (threads: number, v) => ({ toy: { ...(v.toy as object | undefined), threads } }) },
  ],
});
