import { describeIssues, GenerateParams, MAX_SIZE, type GenerateParamsInput, type ResolvedParams } from '../../app/contract';
import type { RgbImage } from '../image/rgb';
import type { ModelInfo } from '../model/model';
import { CancelledError } from '../../app/errors';
import { defaultSchedulerName } from '../schedulers/registry';
import { join } from 'node:path';

export type { ResolvedParams };

/** Parameters only some pipelines take (others refuse them rather than ignore them). */
export interface PipelineTakes {
  sizeConditioning?: boolean;
  /** the UNet may take more channels than latents (the pipeline checks which) and strength defaults to 1 */
  inpaint?: boolean;
}

/** diffusers' check_inputs: every bad request is refused here, with a message naming the field. */
export function checkInputs(model: ModelInfo, input: GenerateParamsInput, initImage?: RgbImage, takes: PipelineTakes = {}): ResolvedParams {
  const inpaint = takes.inpaint ?? false;
  const parsed = GenerateParams.safeParse(input);
  if (!parsed.success) throw new Error(`invalid run parameters: ${describeIssues(parsed.error)}`);
  const p = parsed.data;
  if (p.sizeConditioning && !takes.sizeConditioning) {
    throw new Error(`sizeConditioning (original/target size, crop, aesthetic score) is SDXL's micro-conditioning; ${model.name} (${model.className}) has no time_ids input to take it`);
  }
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
    // sizes the UNet does not divide evenly are tried (diffusers' forward_upsample_size: a graph exported at such a size resizes to its skips); unetSizeHint explains a failure
  }
  const strength = initImage ? (p.strength ?? (inpaint ? 1 : 0.8)) : undefined;
  if (strength !== undefined && Math.min(Math.floor(p.steps * strength), p.steps) < 1) {
    throw new Error(`steps ${p.steps} x strength ${strength} leaves no denoising step: raise steps or strength`);
  }
  width = Math.trunc(width);
  height = Math.trunc(height);
  return { ...p, scheduler: p.scheduler ?? defaultSchedulerName(model.schedulerConfig), width, height, strength };
}


/**
 * A UNet failure on a size its downsampling does not divide: most graphs were exported at a size
 * that divides, with fixed x2 upsamplers, and cannot take it. Other errors pass through.
 */
export function unetSizeHint(e: unknown, model: ModelInfo, p: { width: number; height: number }): unknown {
  const unit = model.vaeScaleFactor * model.unetDownsampling;
  const odd = (['width', 'height'] as const).find((k) => p[k] % unit !== 0);
  if (!odd || !(e instanceof Error) || e instanceof CancelledError) return e;
  return new Error(`${odd} ${p[odd]}: this model's UNet needs multiples of ${unit} pixels (VAE x${model.vaeScaleFactor}, UNet x${unit / model.vaeScaleFactor}); its graph failed on this size: ${e.message}`);
}
