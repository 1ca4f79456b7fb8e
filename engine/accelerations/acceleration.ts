import type { GenerateParams } from '../../app/contract';
import type { Variant } from '../../app/variant';
import type { SessionOptions } from '../model/onnx-session';
import type { LoopGraphs, UnetFn } from '../pipeline/stable-diffusion';

export type { UnetFn };

/** What an acceleration may change before sessions are created. */
export interface PrepareContext {
  variant: Variant;
  modelDir: string;
  /** onnxruntime session options shared by every graph of the variant (providers, optimisation). */
  sessionOptions: SessionOptions;
  /** Per-graph additions to sessionOptions, by graph name (e.g. where to save the optimised graph). */
  graphOptions?: Record<string, SessionOptions>;
  /** Where derived graphs are cached (content-keyed), and the variant's notes for the result. */
  cacheDir: string;
  /**
   * The ONNX file each graph will be opened from, by part (text_encoder, unet, vae_decoder,
   * vae_encoder) plus extra graphs (unet_shallow); rewriting accelerations write derived graphs to
   * cacheDir and point here.
   */
  graphs: Record<string, string>;
  /** The provider that will actually run (set by the provider acceleration). */
  provider: string;
  fellBack: boolean;
  /** Milliseconds of each preparation step (e.g. lora.loadMs, lora.applyMs), reported with the run. */
  timings: Record<string, number>;
  /** What an acceleration actually did, by its id (replaces its describe() in the run's summary). */
  notes: Record<string, string>;
}

export interface LoopContext extends LoopGraphs {
  variant: Variant;
  /** Steps that ran the full UNet, filled by accelerations that skip work. */
  fullSteps: Set<number>;
}

/**
 * One acceleration: an id, when it applies, a one-line description, and hooks at the two places
 * an acceleration can act: the model's graphs/sessions, and the denoising loop's UNet call.
 */
export interface Acceleration {
  id: string;
  enabled(v: Variant): boolean;
  /** The part of the variant its graphs or sessions depend on (variants equal on every one share sessions). */
  sessionKey?(v: Variant): unknown;
  /** A reason this variant cannot run (conflicting options), or undefined. */
  validate?(v: Variant): string | undefined;
  prepare?(ctx: PrepareContext): Promise<void>;
  /** Changes the run's inputs for this variant (LCM-LoRA: its scheduler, steps and guidance). */
  adjustParams?(params: GenerateParams, v: Variant): GenerateParams;
  /** Wraps the UNet call of the denoising loop. */
  wrapUnet?(next: UnetFn, ctx: LoopContext): UnetFn;
}
