import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { DeepCacheOptions, Variant } from '../../app/variant';
import { linkExternalData } from '../onnx/graph-cache';
import { cloneModel, readModel, writeModel, type ModelProto } from '../onnx/model-proto';
import { cutAt, externalInputs, nodesUnder, producers, withExtraOutput } from '../onnx/partition';
import { NO_HOST_DATA, secondHalf } from '../model/device-tensors';
import { noSpinning } from '../model/onnx-session';
import { unetBatch, type Tensor } from '../pipeline/denoiser';
import { condHalf } from '../pipeline/loop';
import type { Acceleration } from './acceleration';

/**
 * DeepCache (Ma et al. 2023) by graph partitioning, no model code: from unet/model.onnx derive
 * (a) the full UNet that also outputs the deep feature entering the up-path layer at the branch,
 * (b) a shallow UNet taking that feature as an input, pruned to conv_in, the down-path layers
 * shallower than the branch, the up-path layers at or shallower than it, and conv_out.
 * Branch b is DeepCache's cache_branch_id: block b // 3 and layer b % 3, counted from the outside.
 * In the loop it wraps the Denoiser: full steps call `next` as given and keep the feature output;
 * cached steps call `next` routed to the shallow graph with the feature as one more feed. Other
 * feeds pass through, so it composes with other wrappers and UNets with more inputs.
 */
export const FEATURE = 'deepcache_feature';
/** The shallow graph's name beside the UNet: cached steps route the Denoiser to it. */
export const SHALLOW = 'unet_shallow';

export interface Partition {
  feature: string;
  upBlock: number;
  resnet: number;
}

/** Finds the tensor DeepCache caches for a branch; every failure names what the graph lacks. */
export function locateBranch(model: ModelProto, branch: number, file: string): Partition {
  const g = model.graph!;
  const names = (g.node ?? []).map((n) => n.name ?? '');
  const ups = new Set(names.flatMap((n) => [...n.matchAll(/(?:^|\/)up_blocks\.(\d+)\//g)].map((m) => Number(m[1]))));
  if (ups.size === 0) {
    throw new Error(`${file}: no nodes named .../up_blocks.N/... — DeepCache needs module-path node names (export with torch.onnx.export(..., dynamo=False))`);
  }
  const nUp = Math.max(...ups) + 1;
  const block = Math.floor(branch / 3), layer = branch % 3;
  if (block >= nUp) throw new Error(`${file}: branch ${branch} needs up block ${block} from the outside, but this UNet has ${nUp} up blocks (use a branch < ${nUp * 3})`);
  const upBlock = nUp - 1 - block;
  const resnets = new Set(names.flatMap((n) => [...n.matchAll(new RegExp(`(?:^|/)up_blocks\\.${upBlock}/resnets\\.(\\d+)/`, 'g'))].map((m) => Number(m[1]))));
  if (resnets.size === 0) throw new Error(`${file}: up_blocks.${upBlock} has no nodes named .../resnets.N/...; DeepCache cannot place branch ${branch}`);
  const nLayers = Math.max(...resnets) + 1;
  if (layer >= nLayers) throw new Error(`${file}: branch ${branch} needs layer ${layer} of up_blocks.${upBlock}, which has ${nLayers} layers`);
  const resnet = nLayers - 1 - layer;
  const scope = nodesUnder(g, `up_blocks.${upBlock}/resnets.${resnet}`);
  const producer = producers(g);
  const concat = externalInputs(g, scope).map((t) => producer.get(t)!).find((n) => n.opType === 'Concat');
  if (!concat) throw new Error(`${file}: up_blocks.${upBlock}/resnets.${resnet} does not read a Concat of (hidden, skip); DeepCache cannot place branch ${branch}`);
  return { feature: concat.input![0]!, upBlock, resnet };
}

/** Writes (once) and returns the full and shallow graphs for this branch, cached by model hash. */
export function partitionUnet(unetPath: string, branch: number, cacheDir: string): { full: string; shallow: string } {
  // keyed by the source graph too: a LoRA-merged or rewritten UNet partitions into its own files
  const dir = join(cacheDir, `deepcache-b${branch}-${createHash('sha256').update(unetPath).digest('hex').slice(0, 12)}`);
  const full = join(dir, 'unet_full.onnx'), shallow = join(dir, 'unet_shallow.onnx');
  if (existsSync(full) && existsSync(shallow)) return { full, shallow };
  const model = readModel(unetPath);
  const { feature } = locateBranch(model, branch, unetPath);
  const rename = (m: ModelProto) => renameTensor(m, feature, FEATURE);
  writeModel(full, withExtraOutput(rename(model), FEATURE, 4));
  writeModel(shallow, cutAt(rename(model), FEATURE, 4));
  // weights kept as external data must sit in our folder (onnxruntime refuses paths that leave it)
  linkExternalData(model, unetPath, dir);
  return { full, shallow };
}

function renameTensor(model: ModelProto, from: string, to: string): ModelProto {
  const copy = cloneModel(model);
  for (const n of copy.graph!.node!) {
    n.input = n.input!.map((i) => (i === from ? to : i));
    n.output = n.output!.map((o) => (o === from ? to : o));
  }
  // its declared type (fp16 in an fp16 UNet) goes with it
  for (const v of copy.graph!.valueInfo ?? []) if (v.name === from) v.name = to;
  return copy;
}

/**
 * Steps (indices into the loop) that run the full UNet. Uniform follows the reference helper:
 * full when (index in the scheduler's timesteps − first index) % N == 0, index by first occurrence.
 */
export function fullSteps(o: DeepCacheOptions, timesteps: readonly number[], all: readonly number[]): Set<number> {
  const steps = scheduledSteps(o, timesteps, all);
  // the window: the first round(start·n) and last round(end·n) steps always run the full UNet
  const n = timesteps.length, head = Math.round((o.start ?? 0) * n), tail = n - Math.round((o.end ?? 0) * n);
  for (let i = 0; i < n; i++) if (i < head || i >= tail) steps.add(i);
  return steps;
}

function scheduledSteps(o: DeepCacheOptions, timesteps: readonly number[], all: readonly number[]): Set<number> {
  const n = timesteps.length;
  if (Array.isArray(o.schedule)) {
    const bad = o.schedule.filter((s) => s >= n);
    if (bad.length) throw new Error(`deepcache.schedule lists step ${bad[0]}, but the run has ${n} steps (0..${n - 1})`);
    if (!o.schedule.includes(0)) throw new Error('deepcache.schedule must include step 0: the first step fills the cache');
    return new Set(o.schedule);
  }
  if (o.schedule === 'nonuniform') return new Set(nonUniform(n, o.interval));
  const idx = timesteps.map((t) => all.indexOf(t));
  return new Set(idx.flatMap((k, i) => ((k - idx[0]!) % o.interval === 0 ? [i] : [])));
}

/**
 * The DeepCache paper's non-uniform schedule: as many full steps as uniform would take, packed
 * quadratically around a centre (30% of the way in, where features change fastest), as its
 * pipeline's sample_from_quad_center does, including its reading of (−c)^(1/p) as complex.
 */
export function nonUniform(n: number, interval: number): number[] {
  const slow = Math.ceil(n / interval);
  const center = Math.round(0.3 * n);
  if (slow >= n) return Array.from({ length: n }, (_, i) => i);
  for (let pow = 1.4; pow > 1; pow -= 0.02) {
    // (-center)^(1/pow) = center^(1/pow) · e^{iπ/pow}
    const r = center ** (1 / pow), ar = r * Math.cos(Math.PI / pow), ai = r * Math.sin(Math.PI / pow);
    const b = (n - center) ** (1 / pow);
    const vals = new Set<number>();
    for (let k = 0; k <= slow; k++) {
      const re = ar + ((b - ar) * k) / slow, im = ai - (ai * k) / slow;
      const mag = Math.hypot(re, im) ** pow, arg = Math.atan2(im, re) * pow;
      vals.add(Math.trunc(mag * Math.cos(arg)));
    }
    const sorted = [...vals].sort((x, y) => x - y).slice(1, -1);
    const idx = [0, ...sorted.map((x) => x + center)];
    if (idx.length === slow) return idx.filter((i) => i >= 0 && i < n);
  }
  throw new Error(`deepcache: no non-uniform schedule of ${slow} full steps fits ${n} steps; use the uniform schedule`);
}

/** The conditional half of the cached feature, sliced where it is (on the GPU, with no transfer). */
async function conditionalHalf(x: Tensor): Promise<Tensor> {
  if (!x.device) return condHalf(x);
  return { data: NO_HOST_DATA, dims: [x.dims[0]! / 2, ...x.dims.slice(1)], device: await secondHalf(x.device) };
}

export const deepcache: Acceleration = {
  id: 'deepcache',
  enabled: (v: Variant) => v.deepcache !== undefined,
  // the interval and schedule only change which steps run the shallow graph
  sessionKey: (v) => v.deepcache && [v.deepcache.branch, v.cfgTruncation >= 1],
  async prepare(ctx) {
    const { full, shallow } = partitionUnet(ctx.graphs.unet!, ctx.variant.deepcache!.branch, ctx.cacheDir);
    ctx.graphs.unet = full;
    ctx.graphs[SHALLOW] = shallow;
    const perGraph = (ctx.graphOptions ??= {});
    /*
     * The shallow graph does not spin. Each session has its own intra-op thread pool whose workers
     * spin after a run; with both spinning, one's workers took the cores the other needed as they
     * alternated (a full step 1.29-1.39x a plain one). With neither spinning, the full step lost what
     * spinning gains a plain step (1.08-1.41x). With only the shallow graph not spinning, the full step
     * runs as a plain one (0.97-1.11x, median ~1.02) and the loop is as fast or faster (N=3 2.00-2.23x,
     * N=5 2.48-3.01x, against 1.76-2.25x and 2.32-2.85x). Each setting ran in 4 processes of 8
     * interleaved runs (the measurement bench/deepcache-steps.ts makes: plain, N=1/3/5), 2-core CPU, emoji model.
     */
    perGraph[SHALLOW] = noSpinning(perGraph[SHALLOW] ?? {});
    // on WebGPU the feature stays on the GPU from a full step to the cached ones with the UNet's
    // other outputs (engine/pipeline/resident.ts residentOutputs)
  },
  wrapDenoiser(next, ctx) {
    const full = fullSteps(ctx.variant.deepcache!, ctx.timesteps, ctx.allTimesteps);
    let cache: Tensor | undefined, half: Tensor | undefined;
    return async (step, t, sample, feeds, route) => {
      if (full.has(step) || !cache) {
        ctx.fullSteps.add(step);
        const { prediction, extra } = await next(step, t, sample, feeds, route);
        const { [FEATURE]: feature, ...rest } = extra;
        if (!feature) throw new Error(`deepcache: the UNet gave no "${FEATURE}" output (was it partitioned? another acceleration replaced the graph after DeepCache)`);
        cache = feature;
        half?.device?.dispose();
        half = undefined;
        return { prediction, extra: rest };
      }
      // guidance dropped since the last full step (CFG truncation): keep the conditional half
      const feature = cache.dims[0] === unetBatch(sample, feeds) ? cache : (half ??= await conditionalHalf(cache));
      return next(step, t, sample, { ...feeds, [FEATURE]: feature }, { ...route, graph: SHALLOW });
    };
  },
};
