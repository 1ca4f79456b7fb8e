import type { GenerateParamsInput } from '../../app/contract';
import type { LoadedModel } from '../model/model';
import type { GenerateOptions, GenerateResult } from './pipeline';
import { checkImages, pipelineFor } from './pipelines/registry';

export { CancelledError } from '../../app/errors';
export type { GenerateOptions, GenerateResult } from './pipeline';

/** One generation on a loaded model, by the pipeline its folder names. */
export function generate(model: LoadedModel, params: GenerateParamsInput, opts: GenerateOptions = {}): Promise<GenerateResult> {
  const pipeline = pipelineFor(model);
  checkImages(pipeline, (['initImage', 'mask', 'garment', 'controlImage', 'controlImages'] as const).filter((k) => opts[k] !== undefined));
  return pipeline.run(model, params, opts);
}
