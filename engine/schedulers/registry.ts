import { DDIMScheduler } from './ddim';
import { DPMSolverMultistepScheduler } from './dpmpp-2m';
import { EulerScheduler } from './euler';
import { EulerAncestralScheduler } from './euler-ancestral';
import { LCMScheduler } from './lcm';
import { PNDMScheduler } from './pndm';
import { SCHEDULER_NAMES, type SchedulerName } from '../../app/contract';
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

export function defaultSchedulerName(config: SchedulerConfig): SchedulerName {
  const cls = String(config._class_name ?? 'PNDMScheduler');
  const name = BY_CLASS[cls];
  if (!name) return 'pndm';
  return name === 'dpmpp-2m' && config.use_karras_sigmas === true ? 'dpmpp-2m-karras' : name;
}

export function createScheduler(name: string, config: SchedulerConfig): Scheduler {
  const make = (SCHEDULERS as Record<string, (c: SchedulerConfig) => Scheduler>)[name];
  if (!make) throw new Error(`unknown scheduler "${name}" (use ${SCHEDULER_NAMES.join(', ')})`);
  return make(config);
}
