import type ort from 'onnxruntime-node';
import { countTransfers, NO_HOST_DATA, onDevice, takesGpuBuffers, upload } from '../model/device-tensors';
import { isUnetGraph } from '../model/components';
import { asInput, inputSpec, toFloat32, type InputSpec, type OrtSession } from '../model/onnx-session';

/** Time spent converting feeds and outputs (fp16 I/O) in every graph so far: runs read it before and after, as with onnxMs. */
let converting = 0;
export const conversionMs = (): number => converting;

/** Feeds and outputs converted on the host (fp16 <-> float32) so far: a cached feature fed back as it came adds none. */
let converted = 0;
export const hostConversions = (): number => converted;

/**
 * `device`: a GPU-buffer tensor a WebGPU session returned, fed as it is (its `data` is empty).
 * `raw`: a host output as onnxruntime returned it (fp16), fed as it is to an input of its type.
 */
export type Feeds = Record<string, { data: Float32Array | Int32Array; dims: readonly number[]; device?: ort.Tensor; raw?: ort.Tensor }>;
export type Output = { data: Float32Array; dims: number[]; device?: ort.Tensor; raw?: ort.Tensor };

/**
 * A host output; an fp16 one becomes float32 only when its data is read, so DeepCache's cached
 * feature (fp16 on an fp16 UNet) goes from the full step to the shallow one with no conversion
 * (measured on the H200: 265 ms of a 872 ms image converting it both ways, N=3).
 */
function hostOutput(t: ort.Tensor, dims: number[]): Output {
  if (t.type === 'float32') return { data: t.data as Float32Array, dims };
  let data: Float32Array | undefined;
  const out: Output = {
    get data() {
      if (!data) converted++;
      return (data ??= toFloat32(t));
    },
    set data(v) { // new values: the fp16 tensor no longer says what this output holds
      data = v;
      out.raw = undefined;
    },
    dims, raw: t,
  };
  return out;
}

/**
 * One ONNX graph with its declared inputs, timed around session.run alone (monotonic clock),
 * so the engine's own overhead can be reported apart from inference.
 */
export class Graph {
  private readonly specs = new Map<string, InputSpec>();
  /** Constant feeds already on the GPU, by input name (replaced when the caller passes other data). */
  private readonly uploaded = new Map<string, { src: Float32Array | Int32Array; tensor: ort.Tensor }>();
  /** The GPU-buffer outputs last returned, by name: each is released when the next run replaces it. */
  private readonly deviceOutputs = new Map<string, ort.Tensor>();
  onnxMs = 0;

  constructor(readonly session: OrtSession, readonly file: string, inputs: readonly string[]) {
    for (const name of inputs) this.specs.set(name, inputSpec(session, name, file));
  }

  spec(name: string): InputSpec {
    return this.specs.get(name)!;
  }

  async run(feeds: Feeds, output?: string): Promise<Output> {
    const all = await this.runAll(feeds);
    return all[output ?? this.session.outputNames[0]!]!;
  }

  /**
   * Every output, by name. `constant`: feeds the caller passes unchanged on every call (the text
   * embeddings of a loop), converted to a half input once rather than on each call, and on WebGPU
   * uploaded once. Host inputs and outputs of a session on a device are counted as transfers.
   */
  async runAll(feeds: Feeds, constant: readonly string[] = []): Promise<Record<string, Output>> {
    const inputs: Record<string, ort.Tensor> = {};
    const device = onDevice(this.session);
    const c0 = performance.now();
    for (const [name, v] of Object.entries(feeds)) {
      if (v.device) inputs[name] = v.device;
      else if (v.raw?.type === this.spec(name).type) inputs[name] = v.raw;
      else if (constant.includes(name) && takesGpuBuffers(this.session)) inputs[name] = await this.uploadOnce(name, v);
      else {
        inputs[name] = asInput(this.spec(name), v.data, v.dims, constant.includes(name));
        if (this.spec(name).type === 'float16') converted++;
        if (device) countTransfers(1);
      }
    }
    const t0 = performance.now();
    converting += t0 - c0;
    let out: ort.InferenceSession.OnnxValueMapType;
    try {
      out = await this.session.run(inputs);
    } catch (e) {
      const shapes = Object.entries(feeds).map(([k, v]) => `${k}[${v.dims.join('x')}]`).join(', ');
      throw new Error(`${this.file}: inference failed on ${shapes}: ${(e as Error).message.split('\n')[0]}`);
    } finally {
      this.onnxMs += performance.now() - t0;
    }
    const res: Record<string, Output> = {};
    const c1 = performance.now();
    for (const [name, value] of Object.entries(out)) {
      const t = value as ort.Tensor, dims = t.dims.map(Number);
      if (t.location === 'gpu-buffer') {
        this.deviceOutputs.get(name)?.dispose();
        this.deviceOutputs.set(name, t);
        res[name] = { data: NO_HOST_DATA, dims, device: t };
      } else {
        if (device) countTransfers(1);
        res[name] = hostOutput(t, dims);
      }
    }
    converting += performance.now() - c1;
    return res;
  }

  private async uploadOnce(name: string, v: Feeds[string]): Promise<ort.Tensor> {
    const had = this.uploaded.get(name);
    if (had?.src === v.data) return had.tensor;
    had?.tensor.dispose();
    const tensor = await upload(asInput(this.spec(name), v.data, v.dims, true));
    this.uploaded.set(name, { src: v.data, tensor });
    return tensor;
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
  const names = Object.keys(model.sessions).filter(isUnetGraph);
  return new Map(names.map((k) => [k, graphOf(model, k)]));
}
