import { z } from 'zod';
import { defineAcceleration, fileName } from './descriptor';

export const lcmLora = defineAcceleration({
  id: 'lcm-lora',
  description: 'LCM-LoRA: merged like a LoRA, and the run samples with the LCM scheduler in a few steps with low guidance',
  options: {
    /** LCM-LoRA: merged like a LoRA, and the run switches to the LCM scheduler with few steps and low guidance. */
    lcmLora: z
      .object({
        path: z.string().min(1),
        steps: z.number().int().min(2, 'lcmLora.steps must be >= 2').max(8, 'lcmLora.steps must be <= 8').default(4),
        guidance: z.number().min(0).max(3, 'lcmLora.guidance must be <= 3 (LCM wants little or no guidance)').default(1),
      })
      .strict()
      .optional(),
  },
  summary: ({ lcmLora: l }) => (l ? `LCM-LoRA ${fileName(l.path)} (${l.steps} LCM steps, guidance ${l.guidance})` : ''),
  off: 'no LCM-LoRA',
  editor: {
    group: {
      key: 'lcmLora', label: 'LCM-LoRA', defaults: { path: '' },
      fields: [{ kind: 'file', key: 'path', label: 'LCM-LoRA file', empty: 'choose a LoRA file…' }],
      help: 'this side then samples with the LCM scheduler, 4 steps, guidance 1 (the engine sets them)',
    },
  },
  flags: [{ flags: '--lcm-lora <file>', help: 'LCM-LoRA: merge it and sample with LCM (4 steps, guidance 1)', apply: (path: string) => ({ lcmLora: { path } }) }],
});
