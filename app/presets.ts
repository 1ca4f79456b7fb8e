/**
 * Named starting points that fill a run's parameters (and say which images it needs). Pure: the
 * CLI's `--preset` and the studio's preset buttons read the same table.
 */
import type { GenerateParamsInput } from './contract';
import type { RunInputs } from './run-request';

export interface Preset {
  id: string;
  label: string;
  description: string;
  /** Parameters it sets (a user's explicit value wins in the CLI). */
  params: Partial<GenerateParamsInput>;
  /** Images it needs, by RunInputs key, with what each one is. */
  images: Partial<Record<keyof RunInputs, string>>;
}

/**
 * The try-on service of the field notes (a custom SD2.1 image-to-image pipeline, 576x768, 25 steps):
 * the garment is pasted into the masked region of the person's photo and that is the starting point,
 * so strength stays below 1 (at 1 the start would be pure noise and the garment lost).
 */
export const TRYON: Preset = {
  id: 'tryon',
  label: 'Try-on',
  description: 'virtual try-on as the field notes\' service: 576x768, 25 steps, the garment pasted into the mask as the start',
  params: { width: 576, height: 768, steps: 25, strength: 0.75, prompt: 'a photo of a person wearing the garment, detailed fabric, natural light' },
  images: { initImage: 'the person', mask: 'the garment region (white = repaint)', garment: 'the garment, placed into the mask\'s bounding box' },
};

export const PRESETS: Preset[] = [TRYON];

export function presetById(id: string): Preset {
  const p = PRESETS.find((x) => x.id === id);
  if (!p) throw new Error(`unknown preset "${id}" (presets: ${PRESETS.map((x) => x.id).join(', ')})`);
  return p;
}

/**
 * The embedded inpainting demo (emoji-sd, an ordinary 4-channel UNet: the latent blend): an emoji the
 * model drew (`source`) and a mask over its mouth, both made by scripts/make-inpaint-demo.ts, repainted
 * with `params`. Paths are relative to the repository root.
 */
export const EMOJI_INPAINT_DEMO = {
  image: 'assets/demo/emoji-inpaint-image.png',
  mask: 'assets/demo/emoji-inpaint-mask.png',
  source: { prompt: 'grinning face, twemoji style', seed: 42, steps: 25, guidance: 3, width: 128, height: 128 },
  params: { prompt: 'face with tongue, twemoji style', seed: 7, steps: 20, guidance: 3, strength: 1 },
} as const;

/**
 * The embedded ControlNet demo (edges -> emoji): canny edges of a held-out emoji (the keycap "3",
 * column 2 of the ControlNet's samples.png first row; cut out by scripts/make-controlnet-demo.ts)
 * used as the map as it is (it is edges already), with an empty prompt: a caption outweighs the
 * control on this small model (its README's figures). Guidance 1: with an empty prompt CFG changes nothing.
 */
export const EMOJI_CONTROLNET_DEMO = {
  image: 'assets/demo/emoji-control-edges.png',
  controlnet: 'emoji-sd-controlnet-canny',
  source: { samples: 'assets/models/emoji-sd-controlnet-canny/samples.png', column: 2, size: 128 },
  scale: 1,
  params: { prompt: '', seed: 42, steps: 25, guidance: 1 },
} as const;
