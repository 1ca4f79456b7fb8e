import type { LoadedModel } from '../../model/model';
import { TorchGenerator } from '../../noise/generator';
import { createScheduler } from '../../schedulers/registry';
import { checkInputs } from '../check-inputs';
import { graphDenoiser } from '../denoiser';
import { denoise } from '../loop';
import type { Pipeline } from '../pipeline';
import { graphOf, type Graph } from '../session-runner';
import { cfgTexts, perImage } from '../stages/conditioning';
import { CONTROLNET_CLASS, controlStage } from '../stages/controlnet';
import { imageLatents, noiseLatents, strengthStart } from '../stages/latents';
import { encodeText } from '../stages/text-encoder';
import { decodeLatents, encodeImage } from '../stages/vae';
import { StageTimer } from '../timing';

/**
 * Stable Diffusion 1.x/2.x text-to-image and image-to-image, as diffusers' StableDiffusion(Img2Img)Pipeline
 * runs them; with ControlNet(s) (the folder's own controlnet/, or folders given in params.controlnet) as
 * StableDiffusionControlNetPipeline, the ControlNet stage wrapping the UNet.
 */
export const sd: Pipeline = {
  id: 'sd',
  classNames: ['OnnxStableDiffusionPipeline', 'StableDiffusionPipeline', 'ORTStableDiffusionPipeline', CONTROLNET_CLASS],
  components: ['text_encoder', 'tokenizer', 'unet', 'vae_decoder', 'scheduler'],
  images: ['initImage', 'controlImage', 'controlImages'],
  async run(model, input, opts) {
    const p = checkInputs(model, input, opts.initImage);
    const clock = new StageTimer(opts.signal, opts.onEvent);
    const te = graphOf(model, 'text_encoder', ['input_ids']);
    const vae = graphOf(model, 'vae_decoder', ['latent_sample']);
    const enc = opts.initImage ? graphOf(model, 'vae_encoder', ['sample']) : undefined;
    const graphs = unetGraphs(model);
    const gen = new TorchGenerator(p.seed);
    const cfg = p.guidance > 1;
    const scheduler = createScheduler(p.scheduler, model.schedulerConfig);
    const f = model.vaeScaleFactor;
    const shape = [p.batch, model.latentChannels, p.height / f, p.width / f];

    // 1. prompt → embeddings ([negative, positive] per image with guidance)
    const text = await clock.stage('text-encoder', () => te.onnxMs, () => encodeText(te, model.tokenizers.tokenizer!, cfgTexts(p.prompt, p.negativePrompt, cfg), ['last']));
    const feeds = { encoder_hidden_states: perImage(text.last, p.batch) };
    // 2. timesteps (img2img skips the first 1 - strength of them), 3. initial latents
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
    // 4. denoising loop (the ControlNets, checked with their images before any step, wrap the UNet)
    const control = controlStage(model, p, timesteps.length, opts, opts.controlnets);
    const loopMs = (): number => [...graphs.values()].reduce((a, g) => a + g.onnxMs, 0) + (control?.onnxMs() ?? 0);
    const unet = control ? control.wrap(graphDenoiser(graphs)) : graphDenoiser(graphs);
    const steps = await clock.stage('denoise', loopMs, () => denoise({
      scheduler, timesteps, latents, shape, guidance: p.guidance, feeds, denoiser: unet, hooks: opts.loop,
      noise: () => gen.randn(shape), onnxClock: loopMs, signal: opts.signal, onEvent: opts.onEvent, onLatents: opts.onLatents,
    }));
    // 5. latents → images
    const images = await clock.stage('vae-decoder', () => vae.onnxMs, () => decodeLatents(vae, steps.latents, shape, model.scalingFactor));
    return { params: p, images, timings: clock.timings(steps, te.onnxMs + loopMs() + vae.onnxMs + (enc?.onnxMs ?? 0)), notices: control?.notices() };
  },
};

/** The UNet and the graphs accelerations added beside it (DeepCache's unet_shallow): what the denoiser may route to. */
function unetGraphs(model: LoadedModel): Map<string, Graph> {
  const names = Object.keys(model.sessions).filter((k) => k === 'unet' || (!(k in model.components) && k !== 'controlnet'));
  return new Map(names.map((k) => [k, graphOf(model, k)]));
}
