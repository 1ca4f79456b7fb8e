import { join } from 'node:path';
import { MAX_SIZE } from '../../../app/contract';
import { TorchGenerator } from '../../noise/generator';
import { createScheduler } from '../../schedulers/registry';
import { resizeImage } from '../../image/resize';
import type { RgbImage } from '../../image/rgb';
import { checkInputs } from '../check-inputs';
import { graphDenoiser } from '../denoiser';
import { denoise, repeat } from '../loop';
import type { Pipeline } from '../pipeline';
import { graphOf, unetGraphs } from '../session-runner';
import { cfgTexts, perImage } from '../stages/conditioning';
import { startLatents, strengthStart } from '../stages/latents';
import { placeGarment } from '../stages/garment';
import { concatMaskDenoiser, latentBlend, latentMask, maskedImage, prepareMask } from '../stages/mask';
import { encodeText } from '../stages/text-encoder';
import { decodeLatents, encodeImage } from '../stages/vae';
import { StageTimer } from '../timing';
import { takesStep } from '../folded';

/**
 * Inpainting as diffusers' StableDiffusionInpaintPipeline runs it, both ways, chosen by the UNet's
 * in_channels: an inpainting UNet (latents + mask + masked-image latents: 4 + 1 + 4 = 9) or an ordinary
 * one (4), whose latents are blended with the re-noised image outside the mask after every step.
 * The sd pipeline hands a run with a mask to this one.
 */
export const sdInpaint: Pipeline = {
  id: 'sd-inpaint',
  classNames: ['OnnxStableDiffusionInpaintPipeline', 'StableDiffusionInpaintPipeline', 'ORTStableDiffusionInpaintPipeline'],
  components: ['text_encoder', 'tokenizer', 'unet', 'vae_encoder', 'vae_decoder', 'scheduler'],
  images: ['initImage', 'mask', 'garment'],
  async run(model, input, opts) {
    const lc = model.latentChannels, nine = 2 * lc + 1, unet = join(model.dir, 'unet', 'config.json');
    if (model.unetInChannels !== lc && model.unetInChannels !== nine) {
      throw new Error(`${unet}: in_channels ${model.unetInChannels}; inpainting takes a UNet of ${lc} (latent blend) or ${nine} (latents + mask + masked image) channels`);
    }
    const concat = model.unetInChannels === nine;
    if (!opts.mask) {
      if (opts.garment) throw new Error('garment: try-on needs a mask of the garment region (white = where the garment goes)');
      throw new Error(concat
        ? `${unet}: an inpainting UNet (${nine} input channels: latents, mask, masked-image latents) needs a mask (a PNG, white = repaint) and an init image`
        : 'inpainting needs a mask (a PNG, white = repaint)');
    }
    if (!opts.initImage) throw new Error(`a mask needs an init image: the image to repaint${opts.garment ? ' (try-on: the person)' : ''}`);
    // diffusers resizes the image to the asked size; so does this, and says so
    const { image: init, notices } = fitImage(opts.initImage, input.width, input.height);
    const p = checkInputs(model, input, init, { inpaint: true });
    const clock = new StageTimer(opts.signal, opts.onEvent);
    const te = graphOf(model, 'text_encoder', ['input_ids']);
    const vae = graphOf(model, 'vae_decoder', ['latent_sample']);
    const enc = graphOf(model, 'vae_encoder', ['sample']);
    const graphs = unetGraphs(model);
    const gen = new TorchGenerator(p.seed);
    const cfg = p.guidance > 1, rows = cfg ? 2 : 1;
    const scheduler = createScheduler(p.scheduler, model.schedulerConfig);
    const f = model.vaeScaleFactor, h = p.height / f, w = p.width / f;
    const shape = [p.batch, lc, h, w];
    const prepared = prepareMask(opts.mask, p.width, p.height);
    const mask = prepared.mask;
    notices.push(...prepared.notices);
    // try-on: the garment pasted into the mask is the start (the masked image is made from the person)
    const start0 = opts.garment ? placeGarment(init, mask, opts.garment) : init;

    // 1. prompt → embeddings
    const text = await clock.stage('text-encoder', () => te.onnxMs, () => encodeText(te, model.tokenizers.tokenizer!, cfgTexts(p.prompt, p.negativePrompt ?? '', cfg), ['last']));
    const feeds = { encoder_hidden_states: perImage(text.last, p.batch) };
    // 2. timesteps from strength (default 1: the whole schedule)
    scheduler.setTimesteps(p.steps);
    const timesteps = strengthStart(scheduler, p.steps, p.strength!);
    // 3. latents and the mask's latents; the generator draws as diffusers does: image latents (blend, or strength < 1),
    //    then the start noise, then the masked image's latents
    const full = p.strength === 1;
    const start = await clock.stage('vae-encoder', () => enc.onnxMs, async () => {
      const x0 = !concat || !full ? await encodeImage(enc, start0, lc, model.scalingFactor, p.batch, gen) : undefined;
      const first = startLatents(full ? undefined : x0, gen, shape, scheduler, timesteps[0]!);
      const masked = await encodeImage(enc, maskedImage(init, mask), lc, model.scalingFactor, p.batch, gen);
      return { ...first, x0, masked };
    });
    const small = latentMask(mask, p.width, p.height, w, h);
    // 4. denoising loop: the 9-channel UNet reads the mask; an ordinary one is blended after each step
    const loopMs = (): number => [...graphs.values()].reduce((a, g) => a + g.onnxMs, 0);
    const denoiser = concat
      ? concatMaskDenoiser(graphDenoiser(graphs), { data: repeat(small, rows * p.batch), dims: [rows * p.batch, 1, h, w] }, { data: repeat(start.masked, rows), dims: [rows * p.batch, lc, h, w] })
      : graphDenoiser(graphs);
    const afterStep = concat ? undefined : latentBlend(scheduler, timesteps, start.x0!, start.noise, small);
    const steps = await clock.stage('denoise', loopMs, () => denoise({
      scheduler, timesteps, latents: start.latents, shape, guidance: p.guidance, feeds, denoiser, hooks: opts.loop, afterStep, folded: takesStep(graphs.get('unet')!),
      noise: () => gen.randn(shape), onnxClock: loopMs, signal: opts.signal, onEvent: opts.onEvent, onLatents: opts.onLatents,
    }));
    // 5. latents → images
    const images = await clock.stage('vae-decoder', () => vae.onnxMs, () => decodeLatents(vae, steps.latents, shape, model.scalingFactor));
    return { params: p, images, notices, timings: clock.timings(steps, te.onnxMs + loopMs() + vae.onnxMs + enc.onnxMs) };
  },
};

/** The init image at the asked size (bilinear), with a notice when it had to be resized. */
function fitImage(img: RgbImage, width?: number, height?: number): { image: RgbImage; notices: string[] } {
  const w = width ?? img.width, h = height ?? img.height;
  const ok = (v: number): boolean => Number.isInteger(v) && v >= 8 && v <= MAX_SIZE; // else checkInputs refuses it
  if ((w === img.width && h === img.height) || !ok(w) || !ok(h)) return { image: img, notices: [] };
  return {
    image: resizeImage(img, w, h),
    notices: [`the init image is ${img.width}x${img.height}; resized to the asked ${w}x${h}`],
  };
}
