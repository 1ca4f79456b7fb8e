import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { isUnetGraph } from '../model/components';
import { cachedRewrite, graphKey } from '../onnx/graph-cache';
import { foldBlocker, foldStep } from '../onnx/step-fold';
import type { Acceleration } from './acceleration';

const VERSION = 'fold-1';
/**
 * auto folds where the host's share of a step counts: on CUDA the Node binding keeps no tensor on
 * the GPU, so every step's CFG combine and scheduler step ran in JavaScript between two session.runs
 * (0.28-0.55 ms a step on the H200, 3-6% of an image). WebGPU's resident loop steps on the GPU already.
 */
const AUTO = new Set(['cuda']);

/**
 * The step in the graph: each UNet graph (DeepCache's two included) gets CFG's combine and the
 * scheduler step after it (engine/onnx/step-fold.ts); the loop then feeds latents (engine/pipeline/folded.ts).
 * Runs after precision (the graphs' I/O is float32 by then) and before compile (which caches what it opens).
 */
export const stepInGraph: Acceleration = {
  id: 'step-in-graph',
  enabled: (v) => v.stepInGraph !== 'off',
  sessionKey: (v) => v.stepInGraph,
  async prepare(ctx) {
    if (ctx.variant.stepInGraph === 'auto' && !AUTO.has(ctx.provider)) return;
    if (ctx.provider === 'webgpu') {
      ctx.notes['step-in-graph'] = 'step in the graph: not on webgpu (its resident loop runs the step on the GPU already)';
      return;
    }
    const t0 = performance.now();
    const folded: string[] = [], left: string[] = [];
    for (const name of Object.keys(ctx.graphs).filter(isUnetGraph)) {
      const src = ctx.graphs[name]!;
      if (!existsSync(src)) continue;
      const dir = join(ctx.cacheDir, 'step-in-graph', `${name}-${graphKey(src, VERSION)}`);
      const { path, report } = cachedRewrite(src, dir, (model) => {
        const blocker = foldBlocker(model);
        if (!blocker) foldStep(model);
        return { model, report: { blocker } };
      }, (r) => !r.blocker);
      ctx.graphs[name] = path;
      if (report.blocker) left.push(`${name} (${report.blocker})`);
      else folded.push(name);
    }
    ctx.timings['step-in-graph.foldMs'] = performance.now() - t0;
    ctx.notes['step-in-graph'] = [folded.length && `step in the graph: ${folded.join('+')}`, left.length && `step on the host: ${left.join(', ')}`].filter(Boolean).join('; ');
  },
};
