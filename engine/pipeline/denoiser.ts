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

/**
 * The innermost denoiser: runs the routed graph with sample, timestep (shaped as the graph
 * declares it) and the feeds. A feed the graph has no input for is an error, not dropped.
 */
export function graphDenoiser(graphs: ReadonlyMap<string, Graph>): Denoiser {
  return async (_step, t, sample, feeds, route) => {
    const name = route?.graph ?? 'unet';
    const g = graphs.get(name);
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
