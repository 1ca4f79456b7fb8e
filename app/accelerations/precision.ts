import { z } from 'zod';
import { defineAcceleration } from './descriptor';

const PRECISIONS = ['fp32', 'fp16', 'bf16'] as const;

export const precision = defineAcceleration({
  id: 'precision',
  description: 'weights and activations in fp32, fp16 or bf16 (graph inputs and outputs stay fp32)',
  options: { precision: z.enum(PRECISIONS).default('fp32') },
  summary: (o) => (o.precision === 'fp32' ? '' : o.precision),
  off: 'fp32',
  editor: { fields: [{ kind: 'select', key: 'precision', label: 'Precision', choices: PRECISIONS }] },
  flags: [{ flags: '--precision <p>', help: 'weights and activations', choices: PRECISIONS }],
});
