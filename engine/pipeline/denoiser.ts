import { FOLDED_INPUTS } from '../onnx/step-fold';
import type { Graph, Output } from './session-runner';

/** Host data, or (`device` set, `data` empty) a GPU-buffer tensor that a WebGPU session returned. */
export type Tensor = Output;
/** Model inputs by name. */
export type Feeds = Record<string, Tensor>;

/** What a denoiser returns: the model's prediction (noise, v or x0), and any other outputs by name. */
export interface DenoiserOutput {
  prediction: Tensor;
  extra: Feeds;
}

/** Which graph runs the call: the UNet unless a wrapper picks another (DeepCache's unet_shallow). */
export interface DenoiserRoute {
  graph?: string;
}

/**
 * One UNet evaluation as the loop asks for it: `feeds` carries every conditioning input
 * (encoder_hidden_states, and for other pipelines text_embeds, time_ids, ControlNet residuals...).
 * Accelerations wrap a Denoiser and must call `next`, passing on the feeds they do not know.
 */
export type Denoiser = (step: number, t: number, sample: Tensor, feeds: Feeds, route?: DenoiserRoute) => Promise<DenoiserOutput>;

/** The session of graph `name` for the steps without guidance, where there is one (CFG truncation on CUDA: ../accelerations/cfg.ts). */
export const condTwin = (name: string): string => `${name}:cond`;

/** How many rows the UNet runs for `sample`: a folded graph (engine/onnx/step-fold.ts) is fed the latents once and told the count. */
export const unetBatch = (sample: Tensor, feeds: Feeds): number => feeds[FOLDED_INPUTS[0]]?.data[0] ?? sample.dims[0]!;

/**
 * The innermost denoiser: runs the routed graph with sample, timestep (shaped as the graph
 * declares it) and the feeds. A feed the graph has no input for is an error, not dropped.
 * One per run: the first step's batch (step 0 keeps guidance) goes to the graph, another to its twin.
 */
export function graphDenoiser(graphs: ReadonlyMap<string, Graph>): Denoiser {
  let guidedBatch: number | undefined;
  return async (_step, t, sample, feeds, route) => {
    const name = route?.graph ?? 'unet';
    const rows = unetBatch(sample, feeds);
    guidedBatch ??= rows;
    const g = (rows !== guidedBatch && graphs.get(condTwin(name))) || graphs.get(name);
    if (!g) throw new Error(`no graph "${name}" was opened for this run (opened: ${[...graphs.keys()].join(', ')})`);
    const unknown = Object.keys(feeds).filter((k) => !g.session.inputNames.includes(k));
    if (unknown.length) throw new Error(`${g.file}: has no input ${unknown.map((k) => `"${k}"`).join(', ')} (inputs: ${g.session.inputNames.join(', ')})`);
    for (const k of ['sample', 'timestep']) if (!g.session.inputNames.includes(k)) throw new Error(`${g.file}: expected an input named "${k}" (found ${g.session.inputNames.join(', ')})`);
    const missing = g.session.inputNames.filter((k) => k !== 'sample' && k !== 'timestep' && !(k in feeds));
    if (missing.length) throw new Error(`${g.file}: input ${missing.map((k) => `"${k}"`).join(', ')} was not fed (this pipeline does not produce it)`);
    const timestep = { data: Float32Array.of(t), dims: g.spec('timestep').shape.length === 0 ? [] : [1] };
    // the conditioning feeds are the loop's own, the same arrays every step
    const out = await g.runAll({ sample, timestep, ...feeds }, Object.keys(feeds));
    const [first, ...rest] = g.session.outputNames;
    return { prediction: out[first!]!, extra: Object.fromEntries(rest.map((k) => [k, out[k]!])) };
  };
}
