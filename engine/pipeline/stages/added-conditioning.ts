import type { SizeConditioning } from '../../../app/contract';

/**
 * SDXL's add_time_ids (diffusers' _get_add_time_ids): original size + crop top-left + target size
 * ([h, w], [y, x], [h, w] in pixels), or on a refiner UNet (requires_aesthetics_score) original size
 * + crop + aesthetic score. Sizes default to the generated size, crops to (0, 0), scores to 6 / 2.5.
 * The negative row of a refiner: negative size (default: the positive one), negative crop (default
 * (0, 0)), negative score. Otherwise it is the positive row unless a negative field is given; then
 * each missing negative size is the positive one and the crop (0, 0). One rule where diffusers has
 * two quirks: its txt2img pipeline drops a negative size given without the other, its img2img one
 * ignores the negative crop.
 */
export function addTimeIds(c: SizeConditioning, height: number, width: number, aesthetic: boolean): { positive: number[]; negative: number[] } {
  const wrong = aesthetic ? (['targetSize', 'negativeTargetSize'] as const) : (['aestheticScore', 'negativeAestheticScore'] as const);
  const given = wrong.filter((k) => c[k] !== undefined);
  if (given.length) {
    throw new Error(aesthetic
      ? `sizeConditioning.${given[0]}: this folder's UNet takes an aesthetic score, not a target size (model_index.json requires_aesthetics_score: true, a refiner)`
      : `sizeConditioning.${given[0]}: an aesthetic score is a refiner's condition; this folder's UNet takes a target size (model_index.json requires_aesthetics_score is not true)`);
  }
  const original = c.originalSize ?? [height, width], crop = c.cropTopLeft ?? [0, 0], target = c.targetSize ?? [height, width];
  const negOriginal = c.negativeOriginalSize ?? original, negCrop = c.negativeCropTopLeft ?? [0, 0];
  if (aesthetic) {
    return { positive: [...original, ...crop, c.aestheticScore ?? 6], negative: [...negOriginal, ...negCrop, c.negativeAestheticScore ?? 2.5] };
  }
  const positive = [...original, ...crop, ...target];
  const anyNegative = c.negativeOriginalSize || c.negativeCropTopLeft || c.negativeTargetSize;
  return { positive, negative: anyNegative ? [...negOriginal, ...negCrop, ...(c.negativeTargetSize ?? target)] : positive };
}
