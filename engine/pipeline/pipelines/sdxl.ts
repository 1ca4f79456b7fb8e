import { join } from 'node:path';
import { num } from '../../model/components';
import { requireComponents, type LoadedModel, type ModelInfo } from '../../model/model';
import { TorchGenerator } from '../../noise/generator';
import { checkInputs } from '../check-inputs';
import type { Pipeline } from '../pipeline';
import { graphOf } from '../session-runner';
import { addTimeIds } from '../stages/added-conditioning';
import { perImage, withZeroNegative } from '../stages/conditioning';
import { sampleImages } from '../stages/sample';
import { encodePromptXL, type TextEncoderPair } from '../stages/text-encoder';
import { StageTimer } from '../timing';

/**
 * Stable Diffusion XL text-to-image and image-to-image, as diffusers' StableDiffusionXL(Img2Img)Pipeline
 * run them: two text encoders, and the UNet's added conditioning (pooled text_embeds, time_ids).
 * A refiner folder (text_encoder_2 alone, requires_aesthetics_score) runs too.
 */
export const sdxl: Pipeline = {
  id: 'sdxl',
  classNames: ['ORTStableDiffusionXLPipeline', 'ORTStableDiffusionXLImg2ImgPipeline', 'OnnxStableDiffusionXLPipeline', 'OnnxStableDiffusionXLImg2ImgPipeline', 'StableDiffusionXLPipeline', 'StableDiffusionXLImg2ImgPipeline'],
  components: ['text_encoder_2', 'tokenizer_2', 'unet', 'vae_decoder', 'scheduler'],
  images: ['initImage'],
  async run(model, input, opts) {
    const p = checkInputs(model, input, opts.initImage, { sizeConditioning: true });
    const cfg = p.guidance > 1;
    const ids = addTimeIds(p.sizeConditioning ?? {}, p.height, p.width, model.pipelineConfig.requires_aesthetics_score === true);
    checkAddedConditioning(model, ids.positive.length);
    const encoders = textEncoders(model);
    const clock = new StageTimer(opts.signal, opts.onEvent);
    const gen = new TorchGenerator(p.seed);
    // 1. prompt → embeddings, [negative, positive] with guidance; an absent negative prompt gives zeros (diffusers' force_zeros_for_empty_prompt, default true)
    const zeroed = cfg && p.negativePrompt === undefined && model.pipelineConfig.force_zeros_for_empty_prompt !== false;
    const texts = cfg && !zeroed ? [p.negativePrompt ?? '', p.prompt] : [p.prompt];
    const textMs = (): number => encoders.reduce((a, e) => a + e.graph.onnxMs, 0);
    const text = await clock.stage('text-encoder', textMs, () => encodePromptXL(encoders, texts));
    const rows = zeroed ? { hidden: withZeroNegative(text.hidden), pooled: withZeroNegative(text.pooled) } : text;
    // added conditioning: one time-ids row per CFG half, each repeated per image as the embeddings are (diffusers' img2img
    // pipeline; its txt2img one tiles [neg, pos] per image instead, which differs only with negative sizes and batch > 1)
    const timeIds = { data: Float32Array.from(cfg ? [...ids.negative, ...ids.positive] : ids.positive), dims: [cfg ? 2 : 1, ids.positive.length] };
    const feeds = { encoder_hidden_states: perImage(rows.hidden, p.batch), text_embeds: perImage(rows.pooled, p.batch), time_ids: perImage(timeIds, p.batch) };
    // 2.–5. timesteps, latents, loop, decode
    return sampleImages(model, p, opts, clock, gen, feeds, textMs());
  },
};

/** text_encoder (with tokenizer) when the folder has it, then text_encoder_2 (with tokenizer_2). */
function textEncoders(model: LoadedModel): TextEncoderPair[] {
  const pairs: TextEncoderPair[] = [];
  for (const [te, tok] of [['text_encoder', 'tokenizer'], ['text_encoder_2', 'tokenizer_2']] as const) {
    if (!model.components[te]) continue;
    requireComponents(model, [tok], `sdxl (${model.className}: ${te} reads it)`);
    pairs.push({ graph: graphOf(model, te, ['input_ids']), tokenizer: model.tokenizers[tok]! });
  }
  return pairs;
}

/**
 * What the UNet's config says it takes, checked before any inference (diffusers' _get_add_time_ids
 * check): the encoders' widths sum to cross_attention_dim, and the time ids fill the added embedding.
 */
function checkAddedConditioning(model: ModelInfo, timeIds: number): void {
  const unet = model.components.unet!.config, at = join(model.dir, 'unet', 'config.json');
  const width = (c: 'text_encoder' | 'text_encoder_2'): number | undefined => (model.components[c] ? num(model.components[c].config, 'hidden_size', NaN) : 0);
  const [w1, w2] = [width('text_encoder'), width('text_encoder_2')];
  const cross = num(unet, 'cross_attention_dim', NaN);
  if (Number.isFinite(cross) && Number.isFinite(w1) && Number.isFinite(w2) && w1! + w2! !== cross) {
    throw new Error(`${at}: cross_attention_dim ${cross}, but the text encoders give ${w1 ? `${w1} (text_encoder) + ` : ''}${w2} (text_encoder_2) = ${w1! + w2!} wide embeddings: the folder's parts do not belong together`);
  }
  const proj = num(unet, 'projection_class_embeddings_input_dim', NaN), per = num(unet, 'addition_time_embed_dim', NaN);
  const pooled = num(model.components.text_encoder_2!.config, 'projection_dim', NaN);
  if ([proj, per, pooled].every(Number.isFinite) && proj !== per * timeIds + pooled) {
    const wants = (proj - pooled) / per;
    const hint = wants === 5 ? ': a refiner UNet; set requires_aesthetics_score: true in model_index.json' : wants === 6 ? ': a base UNet; set requires_aesthetics_score: false in model_index.json' : '';
    throw new Error(`${at}: projection_class_embeddings_input_dim ${proj} = ${per} x ${wants} time ids + ${pooled} pooled, but ${timeIds} time ids were made${hint}`);
  }
}
