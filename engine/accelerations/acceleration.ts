import type { GenerateParams } from '../../app/contract';
import type { Variant } from '../../app/variant';
import type { SessionOptions } from '../model/onnx-session';
import type { Denoiser } from '../pipeline/denoiser';
import type { LoopInfo } from '../pipeline/loop';

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
  /** How results name it: "webgpu — software adapter llvmpipe" (ProviderStatus.label). */
  providerLabel?: string;
  fellBack: boolean;
  /** Milliseconds of each preparation step (e.g. lora.loadMs, lora.applyMs), reported with the run. */
  timings: Record<string, number>;
  /** What an acceleration actually did, by its id (replaces its describe() in the run's summary). */
  notes: Record<string, string>;
}

export interface LoopContext extends LoopInfo {
  variant: Variant;
  /** Steps that ran the full UNet, filled by accelerations that skip work. */
  fullSteps: Set<number>;
}

/**
 * One acceleration: an id, when it applies, a one-line description, and hooks where an
 * acceleration can act: the model's graphs/sessions, the run's parameters, and the denoising loop.
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
  /** Wraps the loop's Denoiser; must call `next` and pass on the feeds it does not know. */
  wrapDenoiser?(next: Denoiser, ctx: LoopContext): Denoiser;
  /** False drops classifier-free guidance on this step (0-based, of `steps`); every acceleration must agree to keep it. */
  keepGuidance?(step: number, steps: number, v: Variant): boolean;
}
