import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { cpus } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { summarize } from '../../app/accelerations/registry';
import { padConvChannels } from '../onnx/conv-channel-pad';
import { cachedRewrite, graphKey } from '../onnx/graph-cache';
import type { Acceleration, PrepareContext } from './acceleration';

/**
 * The graph-compile analogue (OneFlow / stable-fast): onnxruntime's graph optimisation level
 * (constant folding, fusions, layout changes). The optimised graphs are saved to the cache, keyed
 * by source graph, level, provider and CPU, so later sessions load them with no optimisation work;
 * first-run cost (session creation + first step) is reported apart from steady state.
 * Runs last, so it compiles the graphs every other acceleration produced.
 */
export const compile: Acceleration = {
  id: 'compile',
  enabled: () => true,
  sessionKey: (v) => v.optLevel,
  async prepare(ctx) {
    if (ctx.provider === 'webgpu') padWebgpuConvs(ctx);
    const level = ctx.variant.optLevel;
    ctx.sessionOptions.graphOptimizationLevel = level;
    if (level === 'disabled') return;
    const dir = join(ctx.cacheDir, 'compiled');
    mkdirSync(dir, { recursive: true });
    const perGraph = (ctx.graphOptions ??= {});
    let cached = 0;
    for (const [part, src] of Object.entries(ctx.graphs)) {
      if (!existsSync(src) || hasExternalData(src)) continue;
      const st = statSync(src);
      const key = createHash('sha256').update(`${src}\0${st.size}\0${st.mtimeMs}\0${level}\0${ctx.provider}\0${cpus()[0]?.model}`).digest('hex').slice(0, 16);
      const out = join(dir, `${part}-${key}.onnx`);
      if (existsSync(out)) {
        ctx.graphs[part] = out;
        perGraph[part] = { ...perGraph[part], graphOptimizationLevel: 'disabled' };
        cached++;
      } else {
        // its warning about hardware-specific graphs is why the key includes the provider and CPU
        perGraph[part] = { ...perGraph[part], optimizedModelFilePath: out, logSeverityLevel: 3 };
      }
    }
    ctx.timings['compile.cachedGraphs'] = cached;
  },
};

/**
 * Whether a graph's folder holds weights beside it (model.onnx_data from exporters, model.onnx.data from
 * the engine's rewrites): onnxruntime saves such a graph optimised with references to those files by
 * their relative names, which the compiled/ folder lacks (seen on CUDA: "External data path does not
 * exist" when the cached graph is loaded), so those graphs are optimised at each session creation instead.
 */
export function hasExternalData(src: string): boolean {
  const self = basename(src);
  return readdirSync(dirname(src)).some((f) => f !== self && !/\.(onnx|json|txt|md)$/i.test(f));
}

/**
 * On WebGPU, Convs with an input-channel count its kernel gets wrong are padded (engine/onnx/conv-channel-pad.ts):
 * last among the rewrites, so LoRA, DeepCache and fp16 see the graph as exported.
 */
function padWebgpuConvs(ctx: PrepareContext): void {
  const done: string[] = [];
  for (const [part, src] of Object.entries(ctx.graphs)) {
    if (!existsSync(src)) continue;
    const dir = join(ctx.cacheDir, 'webgpu-conv-pad', `${part}-${graphKey(src, 'conv-pad-1')}`);
    const { path, report } = cachedRewrite(src, dir, (m) => padConvChannels(m, src), (r) => r.padded.length > 0);
    ctx.graphs[part] = path;
    if (report.padded.length) done.push(`${part} ${report.padded.join(', ')}`);
  }
  // the run's summary shows an acceleration's note in place of its own words: both, then
  if (done.length) ctx.notes.compile = `${summarize('compile', ctx.variant)}; input channels padded for WebGPU's Conv (wrong for 6, 9, 15 in onnxruntime 1.29): ${done.join('; ')}`;
}
