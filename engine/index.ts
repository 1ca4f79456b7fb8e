/** The engine's public API: pure Node, no Electron or React (test/unit/boundaries.test.ts). */
export { loadModel, inspectModel, modelHash, type LoadedModel, type ModelInfo } from './model/model';
export { generate, CancelledError, type GenerateOptions, type GenerateResult } from './pipeline/generate';
export { PIPELINES, pipelineFor } from './pipeline/pipelines/registry';
export type { Pipeline } from './pipeline/pipeline';
export type { Denoiser, DenoiserOutput, Feeds } from './pipeline/denoiser';
export type { ResolvedParams } from '../app/contract';
export { SCHEDULER_NAMES, createScheduler, defaultSchedulerName } from './schedulers/registry';
export type { Scheduler } from './schedulers/scheduler';
export { TorchGenerator } from './noise/generator';
export { loadClipTokenizer } from './tokenizer/clip';
export { readPng, writePng, encodePng, decodePng } from './image/png';
export { infotext } from './image/infotext';
export { psnr } from '../app/metrics';
export { toRgb8, type Rgb8, type RgbImage } from './image/rgb';
export { Engine, type RunOptions } from './engine';
export { detectProviders, probeProvider, type ProviderStatus } from './accelerations/provider';
export { describeVariant, validateVariant } from './accelerations/registry';
