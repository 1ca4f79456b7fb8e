/**
 * What one run asks for: the model, the shared inputs, one variant, and the images it needs by
 * reference (never as bytes). Pure: no node, electron or DOM imports.
 */
import { z } from 'zod';
import { GenerateParams } from './contract';
import { MAX_CONTROLNETS } from './controlnet';
import { Variant } from './variant';

/** Job ids name history folders: lower-case letters, digits and dashes only (here, below every schema that names a job). */
export const JobId = z.string().regex(/^[a-z0-9][a-z0-9-]{5,63}$/, 'job id: 6-64 of [a-z0-9-]');

/** An image a run needs: a PNG file (CLI: any path; studio: inside the workspace) or an uploaded image's hash. */
export const ImageRef = z.union([
  z.object({ path: z.string().min(1).max(4096) }).strict(),
  z.object({ sha256: z.string().regex(/^[0-9a-f]{64}$/, 'sha256: 64 lower-case hex digits') }).strict(),
]);
export type ImageRef = z.infer<typeof ImageRef>;

/**
 * The images a run takes: img2img's init image; inpainting's mask (white = repaint) and the try-on
 * garment (pasted into the mask as the start); ControlNet maps: `controlImage` for every ControlNet, or
 * `controlImages` with one per ControlNet, in the order of params.controlnet.units.
 */
export const RunInputs = z.object({
  initImage: ImageRef.optional(), mask: ImageRef.optional(), garment: ImageRef.optional(), controlImage: ImageRef.optional(),
  controlImages: z.array(ImageRef).min(1).max(MAX_CONTROLNETS).optional(),
}).strict().refine((i) => !(i.controlImage && i.controlImages), { message: 'give controlImage (one map for every ControlNet) or controlImages (one each), not both', path: ['controlImages'] });
export type RunInputs = z.infer<typeof RunInputs>;

/** One run request: shared inputs plus one variant (an A/B is two requests with the same params and inputs). */
export const RunRequest = z.object({ model: z.string().min(1), params: GenerateParams, variant: Variant, inputs: RunInputs.default({}) }).strict();
export type RunRequest = z.infer<typeof RunRequest>;
export type RunRequestInput = z.input<typeof RunRequest>;

/** What every job of the studio runs on: the model, the shared parameters and the images by reference (inputs.upload). */
export const JOB_FIELDS = { jobId: JobId, model: z.string().min(1), params: GenerateParams, inputs: RunInputs.default({}) };

