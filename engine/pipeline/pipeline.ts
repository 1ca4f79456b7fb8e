import type { GenerateParamsInput, ResolvedParams, RunEvent, Timings } from '../../app/contract';
import type { RunInputs } from '../../app/run-request';
import type { MaskImage } from '../image/mask';
import type { RgbImage } from '../image/rgb';
import type { ComponentName, LoadedModel } from '../model/model';
import type { LoopHooks } from './loop';
import type { ControlNetGraph } from './stages/controlnet';

/** A run's images, decoded (the engine resolves RunInputs' refs to these); the mask is one channel, controlImages a list. */
export type PipelineImages = { [K in Exclude<keyof RunInputs, 'mask' | 'controlImages'>]?: RgbImage } & { mask?: MaskImage; controlImages?: RgbImage[] };

export interface GenerateOptions extends PipelineImages {
  signal?: AbortSignal;
  onEvent?: (event: RunEvent) => void;
  /** Latents after each step (previews, parity tests). */
  onLatents?: (step: number, latents: Float32Array, dims: readonly number[]) => void;
  /** Accelerations acting in the loop (Denoiser wrappers, CFG truncation). */
  loop?: LoopHooks;
  /** ControlNet folders given by path (params.controlnet.units[].dir), opened by the engine. */
  controlnets?: Record<string, ControlNetGraph>;
}

export interface GenerateResult {
  params: ResolvedParams;
  images: RgbImage[];
  timings: Timings;
  /** What the run fixed or measured on its own that the user should know (a resized mask or control image, ControlNet runs). */
  notices?: string[];
}

/**
 * A pipeline as diffusers has them: the components it needs, the images it takes, and a run
 * that composes stages (engine/pipeline/stages) around the denoising loop.
 */
export interface Pipeline {
  id: string;
  /** model_index.json `_class_name`s it runs. */
  classNames: readonly string[];
  /** Components the folder must have (optional ones, like img2img's vae_encoder, are checked when used). */
  components: readonly ComponentName[];
  /** Which RunInputs images it takes; others are refused before any work. */
  images: readonly (keyof RunInputs)[];
  run(model: LoadedModel, params: GenerateParamsInput, opts: GenerateOptions): Promise<GenerateResult>;
}
