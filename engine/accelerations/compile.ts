import type { Acceleration } from './acceleration';

/**
 * The graph-compile analogue (OneFlow / stable-fast): onnxruntime's graph optimisation level
 * (constant folding, node fusions, layout changes). Its first-run cost (session creation + first
 * step) is reported apart from steady state by the engine.
 */
export const compile: Acceleration = {
  id: 'compile',
  enabled: () => true,
  describe: (v) => `graph optimisation ${v.optLevel}`,
  async prepare(ctx) {
    ctx.sessionOptions.graphOptimizationLevel = ctx.variant.optLevel;
  },
};
