import type { Variant } from '../../../app/variant';
import type { Acceleration } from '../../../engine/accelerations/acceleration';
import type { ToyOptions } from './descriptor';

/** The toy's options: registered at run time, so the static Variant type does not know them. */
const toyOf = (v: Variant): ToyOptions | undefined => (v as Variant & { toy?: ToyOptions }).toy;

/** The engine half of the toy: a param change and a session option (which keys its sessions). */
export const toy: Acceleration = {
  id: 'toy',
  enabled: (v) => toyOf(v) !== undefined,
  sessionKey: (v) => toyOf(v)?.threads,
  validate: (v) => (toyOf(v) && v.cfgTruncation < 1 ? 'toy boost and CFG truncation do not mix' : undefined),
  adjustParams: (p, v) => ({ ...p, guidance: (p.guidance ?? 7.5) * toyOf(v)!.factor }),
  async prepare(ctx) {
    ctx.sessionOptions.intraOpNumThreads = toyOf(ctx.variant)!.threads;
  },
};
