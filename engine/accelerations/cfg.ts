import { summarize } from '../../app/accelerations/registry';
import { isUnetGraph } from '../model/components';
import { condTwin } from '../pipeline/denoiser';
import type { Acceleration, PrepareContext } from './acceleration';

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
  async prepare(ctx) {
    if (ctx.provider !== 'cuda') return;
    addCondTwins(ctx);
    ctx.notes.cfg = `${summarize('cfg', ctx.variant)} (the unguided steps in sessions of their own: the UNet's weights twice in GPU memory)`;
  },
  keepGuidance: (step, steps, v) => step < Math.max(1, Math.round(v.cfgTruncation * steps)),
};

/**
 * A second session of every UNet graph for the steps without guidance. Within one session each
 * batch change re-plans it on CUDA: the H200's truncated image took 2218 ms against 898 ms without
 * truncation, its median step 16.1 ms but two steps an image (at the changes) ~650 ms each.
 * Runs after every other acceleration (registry order), so it twins the graphs they produced.
 */
export function addCondTwins(ctx: PrepareContext): void {
  const perGraph = (ctx.graphOptions ??= {});
  for (const name of Object.keys(ctx.graphs).filter(isUnetGraph)) {
    ctx.graphs[condTwin(name)] = ctx.graphs[name]!;
    // the first session writes the optimised graph (compile); the twin must not write it again
    const { optimizedModelFilePath: _, ...own } = perGraph[name] ?? {};
    perGraph[condTwin(name)] = own;
  }
}
