import ort from 'onnxruntime-node';
import type { PrepareContext } from '../accelerations/acceleration';
import { download, NO_HOST_DATA, registerSession, upload } from '../model/device-tensors';
import { isUnetGraph } from '../model/components';
import { toFloat32, type SessionOptions } from '../model/onnx-session';
import { scale, type LinearScheduler } from '../schedulers/scheduler';
import type { Tensor } from './denoiser';
import { repeat, type Latents } from './loop';
import { Graph } from './session-runner';
import { COEFFICIENTS, stepGraph, stepTable, type StepGraphShape } from './step-graph';

/**
 * The GPU-resident loop on WebGPU: the UNet's prediction, the latents, DPM++'s previous x0 and the
 * next UNet sample stay GPU buffers from step to step; the CFG combine and the scheduler step run
 * as a small graph (./step-graph.ts) whose coefficients, computed by the scheduler for every step
 * before the first, are uploaded once. What crosses to the host per step is the timestep, noise
 * an ancestral sampler draws, and the latents only where a preview asks for them (and at the end).
 */

/** On WebGPU every output of the UNet's graphs (DeepCache's cached feature included) stays on the GPU. */
export function residentOutputs(ctx: PrepareContext): void {
  if (ctx.provider !== 'webgpu') return;
  for (const name of Object.keys(ctx.graphs).filter(isUnetGraph)) {
    ((ctx.graphOptions ??= {})[name] ??= {}).preferredOutputLocation = 'gpu-buffer';
  }
}

const OPTIONS: SessionOptions = { executionProviders: ['webgpu'], preferredOutputLocation: 'gpu-buffer', logSeverityLevel: 3 };
/** Step graphs by shape, opened once per process (llvmpipe spends seconds compiling each one's shaders). */
const stepGraphs = new Map<string, Promise<Graph>>();

function openStepGraph(shape: StepGraphShape): Promise<Graph> {
  const key = JSON.stringify(shape);
  let g = stepGraphs.get(key);
  if (!g) {
    g = ort.InferenceSession.create(stepGraph(shape), OPTIONS).then((s) => {
      registerSession(s, OPTIONS);
      return new Graph(s, `scheduler step ${key}`, s.inputNames);
    });
    g.catch(() => stepGraphs.delete(key));
    stepGraphs.set(key, g);
  }
  return g;
}

const onGpu = (t: ort.Tensor): Tensor => ({ data: NO_HOST_DATA, dims: t.dims.map(Number), device: t });

export interface ResidentStart {
  scheduler: LinearScheduler;
  timesteps: readonly number[];
  latents: Float32Array;
  shape: number[];
  /** Per step: the UNet runs the [uncond; cond] batch (guidance kept). */
  guided: readonly boolean[];
  guidance: number;
  noise: () => Float32Array;
}

/** One run's resident latents; `onnxMs` is the step graphs' share of the run's inference time. */
export class ResidentSteps {
  private readonly before = new Map<Graph, number>();
  private readonly sampleType: 'float32' | 'float16';

  constructor(sampleType: string) {
    if (sampleType !== 'float32' && sampleType !== 'float16') throw new Error(`resident loop: the UNet's sample is ${sampleType}; it keeps float32 or float16 samples on the GPU`);
    this.sampleType = sampleType;
  }

  onnxMs(): number {
    let ms = 0;
    for (const [g, ms0] of this.before) ms += g.onnxMs - ms0;
    return ms;
  }

  private async graph(shape: StepGraphShape): Promise<Graph> {
    const g = await openStepGraph(shape);
    if (!this.before.has(g)) this.before.set(g, g.onnxMs);
    return g;
  }

  async start(l: ResidentStart): Promise<Latents> {
    const { shape, guided } = l;
    const { table, scales, steps, clip } = stepTable(l.scheduler, l.timesteps, l.guidance);
    const coefficients = await upload(new ort.Tensor('float32', table, [l.timesteps.length, COEFFICIENTS.length]));
    const first = { x: await upload(new ort.Tensor('float32', l.latents, shape)), step: await upload(new ort.Tensor('int32', Int32Array.of(0), [1])) };
    let { x, step } = first;
    let x0: ort.Tensor | undefined;
    let next: Tensor = { data: scale(guided[0] ? repeat(l.latents, 2) : l.latents, scales[0]!), dims: [(guided[0] ? 2 : 1) * shape[0]!, ...shape.slice(1)] };
    let host: Float32Array | undefined = l.latents, ran = 0;
    return {
      input: () => next,
      step: async (i, _t, { prediction }) => {
        const out = prediction.device?.type === 'float16' ? 'float16' : 'float32';
        const g = await this.graph({ guided: guided[i]!, repeatNext: (guided[i + 1] ?? guided[i]) ? 2 : 1, ...(clip === undefined ? {} : { clip }), outType: out, sampleType: this.sampleType });
        // no noise this step: z is x, times k = 0
        const z = steps[i]!.noise ? { data: l.noise(), dims: shape } : onGpu(x);
        const r = await g.runAll({ out: prediction, x: onGpu(x), x0_prev: onGpu(x0 ?? x), z, coefficients: onGpu(coefficients), step: onGpu(step) });
        ({ latents: { device: x }, x0: { device: x0 }, next_step: { device: step } } = r as Record<string, Required<Tensor>>);
        next = r.sample!;
        host = undefined;
        if (i === 0) [first.x, first.step].forEach((t) => t.dispose());
        ran = i + 1;
      },
      host: async () => (host ??= toFloat32(await download(x))),
      // the step graphs' outputs are theirs (released when a graph runs again); these were the run's
      release: () => [coefficients, ...(ran ? [] : [first.x, first.step])].forEach((t) => t.dispose()),
    };
  }
}
