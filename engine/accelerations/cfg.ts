import type { Acceleration } from './acceleration';

/**
 * CFG truncation: after a fraction of the steps, drop the unconditional branch, halving the UNet
 * batch (late steps change fine detail, where guidance matters least). At least the first step keeps it.
 */
export const cfg: Acceleration = {
  id: 'cfg',
  enabled: (v) => v.cfgTruncation < 1,
  keepGuidance: (step, steps, v) => step < Math.max(1, Math.round(v.cfgTruncation * steps)),
};
