import type { Acceleration } from './acceleration';
import { applyLoras } from './lora';

/**
 * LCM-LoRA (Luo et al. 2023): a LoRA distilled so the model samples as a latent consistency model,
 * in 2–8 steps with the LCM scheduler and little or no guidance. Merged on top of any LoRA stack.
 */
export const lcmLora: Acceleration = {
  id: 'lcm-lora',
  enabled: (v) => v.lcmLora !== undefined,
  sessionKey: (v) => v.lcmLora,
  adjustParams: (p, v) => ({ ...p, scheduler: 'lcm', steps: v.lcmLora!.steps, guidance: v.lcmLora!.guidance }),
  prepare: (ctx) => applyLoras(ctx, [{ path: ctx.variant.lcmLora!.path, weight: 1 }], 'lcm-lora'),
};
