import type ort from 'onnxruntime-node';
import { asInput, inputSpec, toFloat32, type InputSpec, type OrtSession } from '../model/onnx-session';

export type Feeds = Record<string, { data: Float32Array | Int32Array; dims: readonly number[] }>;

/**
 * One ONNX graph with its declared inputs, timed around session.run alone (monotonic clock),
 * so the engine's own overhead can be reported apart from inference.
 */
export class Graph {
  private readonly specs = new Map<string, InputSpec>();
  onnxMs = 0;

  constructor(readonly session: OrtSession, readonly file: string, inputs: readonly string[]) {
    for (const name of inputs) this.specs.set(name, inputSpec(session, name, file));
  }

  spec(name: string): InputSpec {
    return this.specs.get(name)!;
  }

  async run(feeds: Feeds, output?: string): Promise<{ data: Float32Array; dims: number[] }> {
    const all = await this.runAll(feeds);
    return all[output ?? this.session.outputNames[0]!]!;
  }

  /**
   * Every output, by name. `constant`: feeds the caller passes unchanged on every call (the text
   * embeddings of a loop), converted to a half input once rather than on each call.
   */
  async runAll(feeds: Feeds, constant: readonly string[] = []): Promise<Record<string, { data: Float32Array; dims: number[] }>> {
    const inputs: Record<string, ort.Tensor> = {};
    for (const [name, v] of Object.entries(feeds)) inputs[name] = asInput(this.spec(name), v.data, v.dims, constant.includes(name));
    const t0 = performance.now();
    let out: ort.InferenceSession.OnnxValueMapType;
    try {
      out = await this.session.run(inputs);
    } catch (e) {
      const shapes = Object.entries(feeds).map(([k, v]) => `${k}[${v.dims.join('x')}]`).join(', ');
      throw new Error(`${this.file}: inference failed on ${shapes}: ${(e as Error).message.split('\n')[0]}`);
    } finally {
      this.onnxMs += performance.now() - t0;
    }
    const res: Record<string, { data: Float32Array; dims: number[] }> = {};
    for (const [name, t] of Object.entries(out)) res[name] = { data: toFloat32(t as ort.Tensor), dims: (t as ort.Tensor).dims.map(Number) };
    return res;
  }
}

/** A component's graph (or a graph an acceleration added), labelled by its place in the folder. */
export function graphOf(model: { dir: string; sessions: Record<string, OrtSession>; files: Record<string, string> }, name: string, inputs?: readonly string[]): Graph {
  const session = model.sessions[name];
  if (!session) throw new Error(`${model.dir}: no "${name}" graph was opened (expected ${name}/model.onnx)`);
  const file = model.files[name]?.startsWith(`${model.dir}/`) ? model.files[name].slice(model.dir.length + 1) : (model.files[name] ?? name);
  return new Graph(session, file, inputs ?? session.inputNames);
}

/** The UNet and the graphs accelerations added beside it (DeepCache's unet_shallow): what the denoiser may route to. */
export function unetGraphs(model: { dir: string; sessions: Record<string, OrtSession>; files: Record<string, string>; components: Record<string, unknown> }): Map<string, Graph> {
  const names = Object.keys(model.sessions).filter((k) => k === 'unet' || !(k in model.components));
  return new Map(names.map((k) => [k, graphOf(model, k)]));
}
