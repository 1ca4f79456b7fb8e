import { DDIMScheduler } from './ddim';
import { DPMSolverMultistepScheduler } from './dpmpp-2m';
import { EulerScheduler } from './euler';
import { EulerAncestralScheduler } from './euler-ancestral';
import { LCMScheduler } from './lcm';
import { PNDMScheduler } from './pndm';
import { SCHEDULER_NAMES, type SchedulerName } from '../../app/contract';
import { jsonSource } from '../model/files';
import type { Scheduler, SchedulerConfig } from './scheduler';

/** Scheduler names as the CLI and the studio spell them; one line each. */
export const SCHEDULERS = {
  pndm: (c: SchedulerConfig) => new PNDMScheduler(c),
  ddim: (c: SchedulerConfig) => new DDIMScheduler(c),
  euler: (c: SchedulerConfig) => new EulerScheduler(c),
  'euler-a': (c: SchedulerConfig) => new EulerAncestralScheduler(c),
  'dpmpp-2m': (c: SchedulerConfig) => new DPMSolverMultistepScheduler(c, { use_karras_sigmas: false }),
  'dpmpp-2m-karras': (c: SchedulerConfig) => new DPMSolverMultistepScheduler(c, { use_karras_sigmas: true }),
  lcm: (c: SchedulerConfig) => new LCMScheduler(c),
} satisfies Record<SchedulerName, (config: SchedulerConfig) => Scheduler>;

export { SCHEDULER_NAMES, type SchedulerName };

/** diffusers class names in scheduler_config.json, for the model's default scheduler. */
const BY_CLASS: Record<string, SchedulerName> = {
  PNDMScheduler: 'pndm',
  DDIMScheduler: 'ddim',
  EulerDiscreteScheduler: 'euler',
  EulerAncestralDiscreteScheduler: 'euler-a',
  DPMSolverMultistepScheduler: 'dpmpp-2m',
  LCMScheduler: 'lcm',
};

/**
 * The scheduler the folder's config names (no `_class_name`: PNDM, diffusers' SD default). A class
 * this engine lacks is an error, never silently another sampler.
 */
export function defaultSchedulerName(config: SchedulerConfig, source = describeSource(config)): SchedulerName {
  const cls = config._class_name ?? 'PNDMScheduler';
  const name = typeof cls === 'string' && Object.hasOwn(BY_CLASS, cls) ? BY_CLASS[cls] : undefined;
  if (!name) {
    throw new Error(`${source}: _class_name ${JSON.stringify(cls)} is not a scheduler this engine has (known: ${Object.keys(BY_CLASS).join(', ')}); pick one of ${SCHEDULER_NAMES.join(', ')} explicitly`);
  }
  return name === 'dpmpp-2m' && config.use_karras_sigmas === true ? 'dpmpp-2m-karras' : name;
}

/** Builds and checks a scheduler; a bad config value is named with the file it came from. */
export function createScheduler(name: string, config: SchedulerConfig, source = describeSource(config)): Scheduler {
  const make = (SCHEDULERS as Record<string, (c: SchedulerConfig) => Scheduler>)[name];
  if (!make) throw new Error(`unknown scheduler "${name}" (use ${SCHEDULER_NAMES.join(', ')})`);
  try {
    return make(config);
  } catch (e) {
    throw new Error(`${source}: ${(e as Error).message}`);
  }
}

/**
 * Checks a model folder's scheduler config when the folder is read (its ranges, for the class it
 * names), so a bad folder is refused when listed or loaded rather than mid-run. A class this engine
 * lacks is not refused here: the user may still pick a scheduler; defaultSchedulerName refuses it.
 */
export function checkSchedulerConfig(config: SchedulerConfig, source = describeSource(config)): void {
  const cls = config._class_name ?? 'PNDMScheduler';
  if (typeof cls === 'string' && Object.hasOwn(BY_CLASS, cls)) createScheduler(defaultSchedulerName(config, source), config, source);
}

function describeSource(config: SchedulerConfig): string {
  return jsonSource(config) ?? 'scheduler config';
}
