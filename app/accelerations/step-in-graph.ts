import { z } from 'zod';
import { defineAcceleration } from './descriptor';

const WHEN = ['auto', 'on', 'off'] as const;

export const stepInGraph = defineAcceleration({
  id: 'step-in-graph',
  description: 'CFG\'s combine and the scheduler step inside the UNet graph, so the host only feeds and reads the latents (auto: on cuda, where the host\'s arithmetic was 3-6% of an image)',
  /** auto: cuda only (WebGPU's resident loop steps on the GPU already; on the CPU it is the same work). */
  options: { stepInGraph: z.enum(WHEN).default('auto') },
  summary: (o) => (o.stepInGraph === 'on' ? 'step in the UNet graph' : o.stepInGraph === 'off' ? 'step on the host' : ''),
  off: 'step in the graph on cuda',
  editor: { fields: [{ kind: 'select', key: 'stepInGraph', label: 'Step in graph', choices: WHEN, help: 'auto: on cuda' }] },
  flags: [{ flags: '--step-in-graph <when>', help: 'CFG and the scheduler step inside the UNet graph (auto: on cuda)', choices: WHEN }],
});
