import { z } from 'zod';
import { defineAcceleration, parseNumber } from './descriptor';

export const cfg = defineAcceleration({
  id: 'cfg',
  description: 'CFG truncation: drop the unconditional branch after a fraction of the steps',
  /** Drop the unconditional branch after this fraction of the steps (1 = never). */
  options: { cfgTruncation: z.number().gt(0, 'cfgTruncation must be > 0').max(1, 'cfgTruncation must be <= 1').default(1) },
  summary: (o) => (o.cfgTruncation < 1 ? `CFG truncated after ${Math.round(o.cfgTruncation * 100)}% of steps` : ''),
  off: 'full CFG',
  editor: {
    fields: [{ kind: 'number', key: 'cfgTruncation', label: 'CFG truncation', min: 0.05, max: 1, step: 0.05, format: (x) => (x >= 1 ? 'off' : `after ${Math.round(x * 100)}% of steps`) }],
  },
  flags: [{ flags: '--cfg-truncation <fraction>', help: 'drop the unconditional branch after this fraction of steps', parse: parseNumber('--cfg-truncation') }],
});
