import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Variant } from '../../app/variant';
import { floatIo, halfIoNames } from '../onnx/float-io';
import { computesInHalf, convertToFloat, convertToHalf, roundWeights } from '../onnx/fp16';
import { graphKey, linkExternalData } from '../onnx/graph-cache';
import { readModel, writeModel } from '../onnx/model-proto';
import type { Acceleration, PrepareContext } from './acceleration';
import { FEATURE } from './deepcache';

/** Bumped when the conversion changes, so cached graphs from an older converter are not reused. */
const VERSION = 'half-2';
/**
 * onnxruntime's CPU provider has almost no fp16 kernels: an fp16 graph loads, but ORT wraps nearly
 * every op in Casts and drops fusions (measured 1.8× slower on the tiny UNet at 16×16 latents,
 * 2.9× at 48×48). There the engine runs fp16-rounded weights in fp32 instead.
 */
const NO_HALF_KERNELS = new Set(['cpu']);
/**
 * Providers where an fp16-stored graph's half inputs and outputs get Casts on the device (float-io):
 * the host conversion of the sample and the output cost 0.3-0.4 ms a step on the H200 run (bench/README.md).
 * WebGPU keeps its outputs on the device (the resident loop), so it keeps the half I/O.
 */
const FLOAT_IO = new Set(['cuda']);
/** DeepCache's feature stays half: the engine feeds it back as its own bits, unconverted. */
const KEEP_HALF = new Set([FEATURE]);
const BF16_REASON = 'precision bf16 needs a provider with bf16 kernels for every UNet op (Conv, InstanceNormalization, ...): onnxruntime\'s CPU provider has none (a bf16 Conv does not even load at opset 17) and no other provider with them is verified here; use fp16';


type Plan = 'as-is' | 'half' | 'half-weights' | 'upcast' | 'float-io';

/** What to do with one graph, given its stored precision (and whether it has half inputs/outputs) and the provider that will run it. */
export function plan(precision: Variant['precision'], storedHalf: boolean, provider: string, halfIo = false): Plan {
  if (precision === 'fp32') return storedHalf ? 'upcast' : 'as-is';
  if (NO_HALF_KERNELS.has(provider)) return storedHalf ? 'upcast' : 'half-weights';
  if (!storedHalf) return 'half';
  return halfIo && FLOAT_IO.has(provider) ? 'float-io' : 'as-is';
}

/** Whether a graph computes in half precision, and has half inputs/outputs (memoised: reading a big graph takes seconds). */
const stored = new Map<string, { half: boolean; halfIo: boolean }>();
function storedHalf(path: string): { half: boolean; halfIo: boolean } {
  const st = statSync(path), id = `${path}\0${st.size}\0${st.mtimeMs}`;
  let found = stored.get(id);
  if (found === undefined) {
    const m = readModel(path), io = halfIoNames(m, KEEP_HALF);
    stored.set(id, (found = { half: computesInHalf(m), halfIo: io.inputs.length + io.outputs.length > 0 }));
  }
  return found;
}

/** A true flag in a component's config.json (force_upcast, upcast_attention); false when absent or unreadable. */
function configFlag(modelDir: string, part: string, key: string): boolean {
  const cfg = join(modelDir, part, 'config.json');
  try {
    return existsSync(cfg) && JSON.parse(readFileSync(cfg, 'utf8'))[key] === true;
  } catch {
    return false;
  }
}
/** diffusers keeps a VAE whose config says force_upcast in fp32 (its fp16 decode overflows). */
const forceUpcast = (modelDir: string, part: string) => configFlag(modelDir, part, 'force_upcast');

const upcastNote = (modelDir: string, parts: string[]) => {
  const up = parts.filter((p) => configFlag(modelDir, p, 'upcast_attention'));
  return up.length ? `; attention scores fp32 in ${up.join('+')}: config upcast_attention` : '';
};

/** Converts (or reuses from cacheDir) one graph per its plan; returns the graph to open. */
function convert(ctx: PrepareContext, part: string, src: string, p: Exclude<Plan, 'as-is'>): string {
  // SD 2.1's upcast_attention: attention scores in fp32 (engine/onnx/fp16.ts says why)
  const upcastAttention = p === 'half' && configFlag(ctx.modelDir, part, 'upcast_attention');
  const dir = join(ctx.cacheDir, 'precision', `${part}-${p}-${graphKey(src, VERSION, p, ...(upcastAttention ? ['upcast-attention'] : []))}`);
  const dst = join(dir, 'model.onnx');
  if (existsSync(dst)) return dst;
  const model = readModel(src);
  if (p === 'upcast') convertToFloat(model, src, dst);
  else if (p === 'half') convertToHalf(model, src, dst, { upcastAttention });
  else if (p === 'float-io') {
    floatIo(model, KEEP_HALF);
    writeModel(dst, model);
  }
  else roundWeights(model, src, dst);
  linkExternalData(readModel(dst), src, dir);
  return dst;
}

/**
 * Precision: fp32 (the graphs as stored; fp16 folders are upcast) or fp16 (weights and activations
 * in half, graph inputs/outputs fp32, numerically sensitive ops kept fp32; see engine/onnx/fp16.ts).
 * Runs after DeepCache so each of its graphs keeps an fp32 boundary (its cached feature included).
 */
export const precision: Acceleration = {
  id: 'precision',
  enabled: () => true,
  // always enabled (an fp16 folder is upcast for fp32); its note says what it did
  sessionKey: (v) => v.precision,
  validate: (v) => (v.precision === 'bf16' ? BF16_REASON : undefined),
  async prepare(ctx) {
    const v = ctx.variant;
    const t0 = performance.now();
    const done: Record<Plan | 'force_upcast', string[]> = { 'as-is': [], half: [], 'half-weights': [], upcast: [], 'float-io': [], force_upcast: [] };
    for (const [part, src] of Object.entries(ctx.graphs)) {
      if (!existsSync(src)) continue;
      const keepFp32 = part.startsWith('vae') && v.precision === 'fp16' && forceUpcast(ctx.modelDir, part);
      const st = storedHalf(src);
      const p = plan(keepFp32 ? 'fp32' : v.precision, st.half, ctx.provider, st.halfIo);
      done[keepFp32 && p === 'as-is' ? 'force_upcast' : p].push(part);
      if (p !== 'as-is') ctx.graphs[part] = convert(ctx, part, src, p);
    }
    ctx.timings['precision.convertMs'] = performance.now() - t0;
    const parts = (p: keyof typeof done) => done[p].join('+');
    const summary = [
      done.half.length && `fp16 ${parts('half')} (I/O fp32${upcastNote(ctx.modelDir, done.half)})`,
      done['half-weights'].length && `fp16 weights, fp32 compute: ${parts('half-weights')} (${ctx.provider} has no fp16 kernels)`,
      done.upcast.length && `fp16 weights upcast to fp32: ${parts('upcast')}`,
      done.force_upcast.length && `fp32 ${parts('force_upcast')} (config force_upcast)`,
      done['as-is'].length && v.precision === 'fp16' && `fp16 as stored: ${parts('as-is')}`,
      done['float-io'].length && `fp16 as stored, I/O cast to fp32 on the device: ${parts('float-io')}`,
    ].filter(Boolean);
    ctx.notes.precision = summary.join('; ');
  },
};
