import { TorchGenerator } from '../../noise/generator';
import { checkInputs } from '../check-inputs';
import type { Pipeline } from '../pipeline';
import { graphOf } from '../session-runner';
import { cfgTexts, perImage } from '../stages/conditioning';
import { sampleImages } from '../stages/sample';
import { CONTROLNET_CLASS } from '../stages/controlnet';
import { encodeText } from '../stages/text-encoder';
import { StageTimer } from '../timing';
import { sdInpaint } from './sd-inpaint';

/**
 * Stable Diffusion 1.x/2.x text-to-image and image-to-image, as diffusers' StableDiffusion(Img2Img)Pipeline
 * runs them; with ControlNet(s) (the folder's own controlnet/, or folders given in params.controlnet) as
 * StableDiffusionControlNetPipeline, the ControlNet stage wrapping the UNet.
 */
export const sd: Pipeline = {
  id: 'sd',
  classNames: ['OnnxStableDiffusionPipeline', 'StableDiffusionPipeline', 'ORTStableDiffusionPipeline', CONTROLNET_CLASS],
  components: ['text_encoder', 'tokenizer', 'unet', 'vae_decoder', 'scheduler'],
  images: ['initImage', 'mask', 'garment', 'controlImage', 'controlImages'],
  async run(model, input, opts) {
    if (opts.mask || opts.garment) return sdInpaint.run(model, input, opts); // diffusers' inpaint pipeline on an ordinary UNet: the latent blend
    const p = checkInputs(model, input, opts.initImage);
    const clock = new StageTimer(opts.signal, opts.onEvent);
    const te = graphOf(model, 'text_encoder', ['input_ids']);
    const gen = new TorchGenerator(p.seed);
    // 1. prompt → embeddings ([negative, positive] per image with guidance; an absent negative is "")
    const texts = cfgTexts(p.prompt, p.negativePrompt ?? '', p.guidance > 1);
    const text = await clock.stage('text-encoder', () => te.onnxMs, () => encodeText(te, model.tokenizers.tokenizer!, texts, ['last']));
    // 2.–5. timesteps, latents, loop, decode
    return sampleImages(model, p, opts, clock, gen, { encoder_hidden_states: perImage(text.last, p.batch) }, te.onnxMs);
  },
};
