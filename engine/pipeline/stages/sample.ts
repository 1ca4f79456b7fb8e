import type { ResolvedParams } from '../../../app/contract';
import type { LoadedModel } from '../../model/model';
import type { TorchGenerator } from '../../noise/generator';
import { takesGpuBuffers } from '../../model/device-tensors';
import { createScheduler } from '../../schedulers/registry';
import { graphDenoiser, type Feeds } from '../denoiser';
import { denoise } from '../loop';
import { unetSizeHint } from '../check-inputs';
import type { GenerateOptions, GenerateResult } from '../pipeline';
import { graphOf, unetGraphs } from '../session-runner';
import { ResidentSteps } from '../resident';
import { takesStep } from '../folded';
import { controlStage } from './controlnet';
import type { StageTimer } from '../timing';
import { imageLatents, noiseLatents, strengthStart } from './latents';
import { decodeLatents, encodeImage } from './vae';

/**
 * Steps 2–5 of every text-conditioned pipeline (SD, SDXL), after the prompt is encoded into
 * `feeds`: timesteps (img2img skips the first 1 - strength), initial latents, the denoising loop,
 * the VAE decode. `textMs` is the onnxruntime time the text stage spent, for the run's total.
 */
export async function sampleImages(model: LoadedModel, p: ResolvedParams, opts: GenerateOptions, clock: StageTimer, gen: TorchGenerator, feeds: Feeds, textMs: number): Promise<GenerateResult> {
  const vae = graphOf(model, 'vae_decoder', ['latent_sample']);
  const enc = opts.initImage ? graphOf(model, 'vae_encoder', ['sample']) : undefined;
  const graphs = unetGraphs(model);
  const scheduler = createScheduler(p.scheduler, model.schedulerConfig);
  const f = model.vaeScaleFactor;
  const shape = [p.batch, model.latentChannels, p.height / f, p.width / f];
  // 2. timesteps, 3. initial latents (img2img draws the VAE's latent sample before the noise)
  scheduler.setTimesteps(p.steps);
  let timesteps = scheduler.timesteps;
  let latents: Float32Array;
  if (enc && p.strength !== undefined) {
    timesteps = strengthStart(scheduler, p.steps, p.strength);
    const x0 = await clock.stage('vae-encoder', () => enc.onnxMs, () => encodeImage(enc, opts.initImage!, model.latentChannels, model.scalingFactor, p.batch, gen));
    latents = imageLatents(x0, gen, shape, scheduler, timesteps[0]!);
  } else {
    latents = noiseLatents(gen, shape, scheduler);
  }
  // 4. denoising loop (the ControlNets, checked with their images before any step, wrap the UNet);
  // on WebGPU the latents stay on the GPU between steps
  const control = controlStage(model, p, timesteps.length, opts, opts.controlnets);
  const unetGraph = graphs.get('unet')!;
  const resident = takesGpuBuffers(unetGraph.session) ? new ResidentSteps(unetGraph.spec('sample').type) : undefined;
  const loopMs = (): number => [...graphs.values()].reduce((a, g) => a + g.onnxMs, 0) + (control?.onnxMs() ?? 0) + (resident?.onnxMs() ?? 0);
  const unet = control ? control.wrap(graphDenoiser(graphs)) : graphDenoiser(graphs);
  const steps = await clock.stage('denoise', loopMs, () => denoise({
    scheduler, timesteps, latents, shape, guidance: p.guidance, feeds, denoiser: unet, hooks: opts.loop, resident, folded: takesStep(unetGraph),
    noise: () => gen.randn(shape), onnxClock: loopMs, signal: opts.signal, onEvent: opts.onEvent, onLatents: opts.onLatents,
  })).catch((e: unknown) => {
    throw unetSizeHint(e, model, p);
  });
  const notices = [...(control?.notices() ?? []), ...(resident && !steps.resident ? [`scheduler ${p.scheduler}: its step is not a linear map, so it runs on the host and the latents cross to the host every step`] : [])];
  // 5. latents → images
  const images = await clock.stage('vae-decoder', () => vae.onnxMs, () => decodeLatents(vae, steps.latents, shape, model.scalingFactor));
  return { params: p, images, timings: clock.timings(steps, textMs + loopMs() + vae.onnxMs + (enc?.onnxMs ?? 0)), notices: notices.length ? notices : undefined };
}
