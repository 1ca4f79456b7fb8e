import type { Variant } from '../../app/variant';
import type { Acceleration } from './acceleration';

/** How many of `n` steps keep classifier-free guidance (the rest run the conditional branch alone). */
export function guidedSteps(v: Variant, guidance: number, n: number): number {
  if (guidance <= 1) return 0;
  return Math.max(1, Math.round(v.cfgTruncation * n));
}

/**
 * CFG truncation: after a fraction of the steps, drop the unconditional branch, halving the UNet
 * batch (late steps change fine detail, where guidance matters least). The loop reads guidedSteps.
 */
export const cfg: Acceleration = {
  id: 'cfg',
  enabled: (v) => v.cfgTruncation < 1,
};
