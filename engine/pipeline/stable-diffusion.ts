import { CancelledError } from '../../app/errors';
import type { GenerateParamsInput, RunEvent, Stage, Timings } from '../../app/contract';
import type { RgbImage } from '../image/rgb';
import type { LoadedModel } from '../model/model';
import { TorchGenerator } from '../noise/generator';
import { createScheduler } from '../schedulers/registry';
import { scale } from '../schedulers/scheduler';
import { checkInputs, type ResolvedParams } from './check-inputs';
import { encodeImage, encodePrompt, guide, repeat, tensorToImage } from './parts';
import { Graph } from './session-runner';

export interface GenerateOptions {
  /** img2img when given (with params.strength). */
  initImage?: RgbImage;
  signal?: AbortSignal;
  onEvent?: (event: RunEvent) => void;
  /** Latents after each step (previews, parity tests). */
  onLatents?: (step: number, latents: Float32Array, dims: readonly number[]) => void;
  /** Accelerations acting in the loop: wrap the UNet call; how many steps keep guidance. */
  loop?: {
    wrapUnet?(next: UnetFn, loop: LoopGraphs): UnetFn;
    guidedSteps?(steps: number): number;
  };
}

export interface LoopGraphs {
  /** The timesteps the loop visits, and the scheduler's whole list (img2img visits a suffix). */
  timesteps: readonly number[];
  allTimesteps: readonly number[];
  /** The UNet and any extra graphs the variant opened (DeepCache's unet_shallow), timed. */
  graphs: Map<string, Graph>;
}

/** The UNet as the loop calls it (batch already doubled when guided). */
export type UnetFn = (step: number, t: number, sample: Float32Array, dims: number[], emb: { data: Float32Array; dims: number[] }) => Promise<Float32Array>;

export { CancelledError };

export interface GenerateResult {
  params: ResolvedParams;
  images: RgbImage[];
  timings: Timings;
}


/** Text-to-image and image-to-image, as diffusers' StableDiffusion(Img2Img)Pipeline runs them. */
export async function generate(model: LoadedModel, input: GenerateParamsInput, opts: GenerateOptions = {}): Promise<GenerateResult> {
  const t0 = performance.now();
  const p = checkInputs(model, input, opts.initImage);
  const { signal, onEvent } = opts;
  const te = new Graph(model.sessions.text_encoder, 'text_encoder/model.onnx', ['input_ids']);
  const unet = new Graph(model.sessions.unet, 'unet/model.onnx', ['sample', 'timestep', 'encoder_hidden_states']);
  const vae = new Graph(model.sessions.vae_decoder, 'vae_decoder/model.onnx', ['latent_sample']);
  const enc = opts.initImage ? new Graph(model.sessions.vae_encoder!, 'vae_encoder/model.onnx', ['sample']) : undefined;
  const stageMs: Record<Stage, number> = { 'text-encoder': 0, 'vae-encoder': 0, denoise: 0, 'vae-decoder': 0 };
  /** Runs one stage, timing it and the session.run time `clock` accumulates during it. */
  const stage = async <T>(name: Stage, clock: () => number, fn: () => Promise<T>): Promise<T> => {
    if (signal?.aborted) throw new CancelledError();
    const s = performance.now(), before = clock();
    const r = await fn();
    stageMs[name] = performance.now() - s;
    onEvent?.({ type: 'stage', stage: name, ms: stageMs[name], onnxMs: clock() - before });
    return r;
  };
  const gen = new TorchGenerator(p.seed);
  const cfg = p.guidance > 1;
  const scheduler = createScheduler(p.scheduler, model.schedulerConfig);
  const f = model.vaeScaleFactor;
  const shape = [p.batch, model.latentChannels, p.height / f, p.width / f];

  // 1. prompt → embeddings
  const emb = await stage('text-encoder', () => te.onnxMs, () => encodePrompt(te, model.tokenizer, p.prompt, p.negativePrompt, p.batch, cfg));
  // 2. timesteps (img2img skips the first 1 - strength of them)
  scheduler.setTimesteps(p.steps);
  let timesteps = scheduler.timesteps;
  // 3. initial latents
  let latents: Float32Array;
  if (opts.initImage && p.strength !== undefined) {
    const start = (p.steps - Math.min(Math.floor(p.steps * p.strength), p.steps)) * scheduler.order;
    timesteps = timesteps.slice(start);
    scheduler.setBeginIndex(start);
    const x0 = await stage('vae-encoder', () => enc!.onnxMs, () => encodeImage(enc!, opts.initImage!, model.latentChannels, model.scalingFactor, p.batch, gen));
    latents = scheduler.addNoise(x0, gen.randn(shape), timesteps[0]!);
  } else {
    latents = scale(gen.randn(shape), scheduler.initNoiseSigma);
  }
  // 4. denoising loop
  const stepMs: number[] = [], stepOnnxMs: number[] = [];
  const tDims = unet.spec('timestep').shape.length === 0 ? [] : [1];
  const base: UnetFn = async (_i, t, data, dims, e) =>
    (await unet.run({ sample: { data, dims }, timestep: { data: Float32Array.of(t), dims: tDims }, encoder_hidden_states: e })).data;
  const graphs = new Map<string, Graph>([['unet', unet], ...[...model.extras].map(([k, s]): [string, Graph] => [k, new Graph(s, model.files[k] ?? k, s.inputNames)])]);
  const predict = opts.loop?.wrapUnet?.(base, { timesteps, allTimesteps: scheduler.timesteps, graphs }) ?? base;
  const guided = cfg ? (opts.loop?.guidedSteps?.(timesteps.length) ?? timesteps.length) : 0;
  const condEmb = cfg ? { data: emb.data.subarray(emb.data.length / 2), dims: [p.batch, ...emb.dims.slice(1)] } : emb;
  const loopOnnxMs = (): number => [...graphs.values()].reduce((a, g) => a + g.onnxMs, 0);
  await stage('denoise', loopOnnxMs, async () => {
    for (const [i, t] of timesteps.entries()) {
      if (signal?.aborted) throw new CancelledError();
      const s = performance.now(), before = loopOnnxMs();
      const g = i < guided; // CFG truncation: later steps run the conditional branch alone
      const x = scheduler.scaleModelInput(g ? repeat(latents, 2) : latents, t);
      const out = await predict(i, t, x, [g ? 2 * p.batch : p.batch, ...shape.slice(1)], g ? emb : condEmb);
      latents = scheduler.step(g ? guide(out, p.guidance) : out, t, latents, () => gen.randn(shape));
      stepMs.push(performance.now() - s);
      stepOnnxMs.push(loopOnnxMs() - before);
      opts.onLatents?.(i, latents, shape);
      onEvent?.({ type: 'step', step: i + 1, steps: timesteps.length, timestep: t, ms: stepMs[i]!, onnxMs: stepOnnxMs[i]! });
    }
  });
  // 5. latents → images, one at a time (bounded memory)
  const per = latents.length / p.batch;
  const images = await stage('vae-decoder', () => vae.onnxMs, async () => {
    const out: RgbImage[] = [];
    for (let b = 0; b < p.batch; b++) {
      const z = scale(latents.subarray(b * per, (b + 1) * per), 1 / model.scalingFactor);
      const x = await vae.run({ latent_sample: { data: z, dims: [1, ...shape.slice(1)] } });
      out.push(tensorToImage(x.data, x.dims[3]!, x.dims[2]!));
    }
    return out;
  });
  const totalMs = performance.now() - t0;
  const onnxMs = te.onnxMs + loopOnnxMs() + vae.onnxMs + (enc?.onnxMs ?? 0);
  const timings: Timings = {
    textEncoderMs: stageMs['text-encoder'], vaeEncoderMs: stageMs['vae-encoder'], stepMs, stepOnnxMs,
    denoiseMs: stageMs.denoise, vaeDecoderMs: stageMs['vae-decoder'], totalMs, onnxMs, overheadMs: totalMs - onnxMs,
  };
  return { params: p, images, timings };
}
