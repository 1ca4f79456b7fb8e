import { z } from 'zod';
import { defineAcceleration } from './descriptor';

const LEVELS = ['disabled', 'basic', 'extended', 'all'] as const;

export const compile = defineAcceleration({
  id: 'compile',
  description: 'onnxruntime graph optimisation level, the "compile" analogue (optimised graphs are cached)',
  /** onnxruntime graph optimisation level: the "compile" analogue. */
  options: { optLevel: z.enum(LEVELS).default('all') },
  summary: (o) => `graph optimisation ${o.optLevel}`,
  editor: { fields: [{ kind: 'select', key: 'optLevel', label: 'Graph opt.', choices: LEVELS }] },
  flags: [{ flags: '--opt-level <level>', help: 'onnxruntime graph optimisation ("compile")', choices: LEVELS }],
});
