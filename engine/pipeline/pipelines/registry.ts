import type { ModelInfo } from '../../model/model';
import { requireComponents } from '../../model/model';
import type { Pipeline } from '../pipeline';
import { sd } from './sd';
import { sdxl } from './sdxl';
import { sdInpaint } from './sd-inpaint';

/** Every pipeline, one line each; a folder picks one by its model_index.json `_class_name`. */
export const PIPELINES: Pipeline[] = [
  sd,
  sdxl,
  sdInpaint,
];

const INPUT_NAMES = { initImage: 'an init image', mask: 'a mask', garment: 'a garment image', controlImage: 'a control image', controlImages: 'control images' } as const;

/** The pipeline for a folder, its components checked; an unknown class lists the known ones. */
export function pipelineFor(model: ModelInfo): Pipeline {
  const p = PIPELINES.find((x) => x.classNames.includes(model.className));
  if (!p) {
    const known = PIPELINES.flatMap((x) => x.classNames).join(', ');
    throw new Error(`${model.dir}: model_index.json _class_name ${model.className ? `"${model.className}"` : 'is missing'}; the engine runs ${known}`);
  }
  requireComponents(model, p.components, `${p.id} (${model.className})`);
  return p;
}

/** Refuses images the pipeline does not take (rather than ignoring them). */
export function checkImages(p: Pipeline, given: readonly string[]): void {
  const extra = given.filter((k) => !(p.images as readonly string[]).includes(k));
  if (extra.length) {
    throw new Error(`${extra.map((k) => INPUT_NAMES[k as keyof typeof INPUT_NAMES] ?? k).join(' and ')}: not supported by the ${p.id} pipeline yet`);
  }
}
