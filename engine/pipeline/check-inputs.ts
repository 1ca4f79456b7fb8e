import { describeIssues, GenerateParams, MAX_SIZE, type GenerateParamsInput, type ResolvedParams } from '../../app/contract';
import type { RgbImage } from '../image/rgb';
import type { ModelInfo } from '../model/model';
import { defaultSchedulerName } from '../schedulers/registry';
import { join } from 'node:path';

export type { ResolvedParams };

/**
 * diffusers' check_inputs: every bad request is refused here, with a message naming the field.
 * `inpaint`: the UNet may take more channels than latents (the pipeline checks which) and strength defaults to 1.
 */
export function checkInputs(model: ModelInfo, input: GenerateParamsInput, initImage?: RgbImage, inpaint = false): ResolvedParams {
  const parsed = GenerateParams.safeParse(input);
  if (!parsed.success) throw new Error(`invalid run parameters: ${describeIssues(parsed.error)}`);
  const p = parsed.data;
  if (!inpaint && model.unetInChannels !== model.latentChannels) {
    throw new Error(`${join(model.dir, 'unet', 'config.json')}: in_channels ${model.unetInChannels} but the VAE's latents have ${model.latentChannels} channels (an inpainting UNet?): without a mask this pipeline feeds latents alone; give a mask and an init image to inpaint`);
  }
  if (p.strength !== undefined && !initImage) throw new Error('strength applies to img2img only: give an init image or drop strength');
  if (initImage && !model.hasVaeEncoder) throw new Error(`${join(model.dir, 'vae_encoder', 'model.onnx')}: missing, and ${inpaint ? 'inpainting' : 'img2img'} needs the VAE encoder`);
  let width = p.width ?? initImage?.width ?? model.defaultSize;
  let height = p.height ?? initImage?.height ?? model.defaultSize;
  if (initImage && (width !== initImage.width || height !== initImage.height)) {
    throw new Error(`the init image is ${initImage.width}x${initImage.height} but ${width}x${height} was asked for: resize the image or leave width/height out`);
  }
  for (const [name, v] of [['width', width], ['height', height]] as const) {
    if (v < 1 || v > MAX_SIZE) throw new Error(`${name} ${v}${initImage ? ' (from the init image)' : ''}: must be 1..${MAX_SIZE}`);
    if (v % 8 !== 0) throw new Error(`${name} ${v} is not a multiple of 8`);
    const unit = model.vaeScaleFactor * model.unetDownsampling;
    if (v % unit !== 0) throw new Error(`${name} ${v}: this model's UNet needs multiples of ${unit} pixels (VAE x${model.vaeScaleFactor}, UNet x${unit / model.vaeScaleFactor})`);
  }
  const strength = initImage ? (p.strength ?? (inpaint ? 1 : 0.8)) : undefined;
  if (strength !== undefined && Math.min(Math.floor(p.steps * strength), p.steps) < 1) {
    throw new Error(`steps ${p.steps} x strength ${strength} leaves no denoising step: raise steps or strength`);
  }
  width = Math.trunc(width);
  height = Math.trunc(height);
  return { ...p, scheduler: p.scheduler ?? defaultSchedulerName(model.schedulerConfig), width, height, strength };
}

