/**
 * ControlNet settings of a run, as diffusers' StableDiffusionControlNetPipeline takes them
 * (controlnet_conditioning_scale, control_guidance_start/end; a list of them is MultiControlNet),
 * plus how each control image is made (as given, or canny edges of it). Pure: no node, electron or DOM.
 */
import { z } from 'zod';

export const MAX_CONTROLNETS = 4;
export const CANNY_DEFAULTS = { low: 100, high: 200 } as const;
/** Sobel magnitudes on 0..255 greys reach 4 * 255 * sqrt(2) ~ 1443. */
export const CANNY_MAX = 1500;

export const ControlPreprocess = z.enum(['none', 'canny']);
export type ControlPreprocess = z.infer<typeof ControlPreprocess>;

export const ControlNetUnit = z
  .object({
    /** A ControlNet folder (model.onnx + config.json); absent: the model folder's own controlnet/. */
    dir: z.string().min(1).max(4096).optional(),
    scale: z.number().min(0, 'controlnet scale must be >= 0').max(5, 'controlnet scale must be <= 5').default(1),
    /** Fractions of the steps: the ControlNet acts on step i of n when start <= i/n and (i+1)/n <= end. */
    start: z.number().min(0, 'control start must be >= 0').max(1, 'control start must be <= 1').default(0),
    end: z.number().min(0, 'control end must be >= 0').max(1, 'control end must be <= 1').default(1),
    preprocess: ControlPreprocess.default('none'),
    low: z.number().min(0).max(CANNY_MAX, `canny low must be <= ${CANNY_MAX}`).default(CANNY_DEFAULTS.low),
    high: z.number().min(0).max(CANNY_MAX, `canny high must be <= ${CANNY_MAX}`).default(CANNY_DEFAULTS.high),
  })
  .strict()
  .refine((u) => u.start < u.end, { message: 'control start must be < control end (diffusers refuses start >= end)', path: ['start'] })
  .refine((u) => u.low <= u.high, { message: 'canny low threshold must be <= the high one', path: ['low'] });
export type ControlNetUnit = z.infer<typeof ControlNetUnit>;

export const ControlNetParams = z
  .object({
    units: z.array(ControlNetUnit).min(1, 'controlnet.units: at least one ControlNet').max(MAX_CONTROLNETS, `at most ${MAX_CONTROLNETS} ControlNets`),
    /**
     * With DeepCache, what its cached (shallow) steps do: 'run' the ControlNet every step (the
     * shallow UNet adds the fresh residuals it still reads), or 'reuse' the last full step's residuals
     * (no ControlNet on cached steps).
     */
    onCachedSteps: z.enum(['run', 'reuse']).default('run'),
  })
  .strict();
export type ControlNetParams = z.infer<typeof ControlNetParams>;

/** diffusers' controlnet_keep: 1 while step i of n lies in [start, end], else 0 (the ControlNet still runs, at scale 0). */
export const controlKeep = (i: number, n: number, start: number, end: number): number => (i / n < start || (i + 1) / n > end ? 0 : 1);
