import type { Acceleration } from './acceleration';

/**
 * CFG truncation: after a fraction of the steps, drop the unconditional branch, halving the UNet
 * batch (late steps change fine detail, where guidance matters least). At least the first step keeps it.
 */
export const cfg: Acceleration = {
  id: 'cfg',
  enabled: (v) => v.cfgTruncation < 1,
  // its own sessions: a session whose batch goes 2 -> 1 -> 2 pays for each change on CUDA (H200: the
  // fused fp16 row sharing one with it took 1026-1126 ms an image, 859 ms once it stopped alternating)
  sessionKey: (v) => v.cfgTruncation < 1,
  keepGuidance: (step, steps, v) => step < Math.max(1, Math.round(v.cfgTruncation * steps)),
};
