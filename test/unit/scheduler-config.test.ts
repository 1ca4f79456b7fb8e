import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readJsonFile } from '../../engine/model/files';
import { checkSchedulerConfig, createScheduler, defaultSchedulerName, SCHEDULER_NAMES } from '../../engine/schedulers/registry';
import { FIXTURE_MODEL } from '../parity/reference';

const fixture = (): Record<string, unknown> => readJsonFile(join(FIXTURE_MODEL, 'scheduler/scheduler_config.json'), isObject, 'a config');
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const dir = mkdtempSync(join(tmpdir(), 'sched-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The fixture's config with `edit` over it, written to a file and read back (so errors can name it). */
function configFile(edit: Record<string, unknown>, text?: string): { path: string; config: Record<string, unknown> } {
  const path = join(dir, `${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(path, text ?? JSON.stringify({ ...fixture(), ...edit }));
  return { path, config: readJsonFile(path, isObject, 'a config') };
}

const bad: [string, Record<string, unknown>, RegExp][] = [
  ['negative beta_start', { beta_start: -0.1 }, /config key "beta_start" must be a number in \(0, 1\), got -0\.1/],
  ['beta_end above one', { beta_end: 1.5 }, /config key "beta_end" must be a number in \(0, 1\), got 1\.5/],
  ['beta_end of zero', { beta_end: 0 }, /"beta_end" must be a number in \(0, 1\)/],
  ['beta_start above beta_end', { beta_start: 0.02, beta_end: 0.01 }, /"beta_start" \(0\.02\) must be below "beta_end" \(0\.01\)/],
  ['huge steps_offset', { steps_offset: 1e9 }, /"steps_offset" must be an integer in 0\.\.999, got 1000000000/],
  ['negative steps_offset', { steps_offset: -1 }, /"steps_offset" must be an integer in 0\.\.999/],
  ['fractional steps_offset', { steps_offset: 0.5 }, /"steps_offset" must be an integer/],
  ['zero training timesteps', { num_train_timesteps: 0 }, /"num_train_timesteps" must be an integer in 1\.\.10000, got 0/],
  ['a million training timesteps', { num_train_timesteps: 1e6 }, /"num_train_timesteps" must be an integer in 1\.\.10000/],
  ['trained_betas of the wrong length', { trained_betas: [0.1, 0.2] }, /trained_betas has 2 values, expected 1000/],
  ['trained_betas not an array', { trained_betas: 'abc' }, /"trained_betas" should be null or an array of numbers/],
  ['a trained beta of one', { trained_betas: Array.from({ length: 1000 }, (_, i) => (i === 7 ? 1 : 0.01)) }, /"trained_betas\[7\]" must be a number in \(0, 1\), got 1/],
  ['an unknown prediction_type', { prediction_type: 'flow' }, /prediction_type "flow" is not supported/],
  ['an unknown timestep_spacing', { timestep_spacing: 'random' }, /timestep_spacing "random" is not supported \(use linspace, leading, trailing\)/],
  ['a wrong type', { rescale_betas_zero_snr: 'no' }, /config key "rescale_betas_zero_snr" should be a boolean/],
];

describe('scheduler configs are range-checked, errors name the file and key', () => {
  it('the fixture config builds every scheduler', () => {
    for (const name of SCHEDULER_NAMES) expect(() => createScheduler(name, fixture()).setTimesteps(4)).not.toThrow();
    expect(() => checkSchedulerConfig(fixture())).not.toThrow();
    expect(() => checkSchedulerConfig({ ...fixture(), beta_end: 2 }, 'x.json')).toThrow('x.json: scheduler pndm: config key "beta_end" must be a number in (0, 1), got 2');
  });
  it.each(bad)('%s: every scheduler refuses it', (_, edit, message) => {
    const { path, config } = configFile(edit);
    for (const name of SCHEDULER_NAMES) {
      if (name === 'pndm' && 'prediction_type' in edit) continue; // pndm has its own narrower set, tested below
      expect(() => createScheduler(name, config), name).toThrow(message);
      expect(() => createScheduler(name, config), name).toThrow(`${path}: scheduler ${name.replace('-karras', '')}:`);
    }
  });
  it('a beta of Infinity (JSON 1e999) is refused as not finite', () => {
    const { path, config } = configFile({}, JSON.stringify(fixture()).replace('"beta_end":0.012', '"beta_end":1e999'));
    expect(() => createScheduler('ddim', config)).toThrow(`${path}: scheduler ddim: config key "beta_end" must be a finite number, got Infinity`);
  });
  it('an unknown _class_name is an error listing the known classes, never PNDM', () => {
    const { path, config } = configFile({ _class_name: 'UniPCMultistepScheduler' });
    expect(() => defaultSchedulerName(config)).toThrow(`${path}: _class_name "UniPCMultistepScheduler" is not a scheduler this engine has (known: PNDMScheduler, DDIMScheduler, EulerDiscreteScheduler`);
    expect(() => defaultSchedulerName(configFile({ _class_name: 42 }).config)).toThrow(/_class_name 42 is not a scheduler/);
    // the folder stays usable with a scheduler picked explicitly
    expect(() => checkSchedulerConfig(config)).not.toThrow();
    expect(() => createScheduler('euler', config)).not.toThrow();
    expect(() => defaultSchedulerName({ _class_name: 'toString' })).toThrow(/scheduler config: _class_name "toString"/);
    expect(defaultSchedulerName({})).toBe('pndm');
    expect(defaultSchedulerName({ _class_name: 'DPMSolverMultistepScheduler', use_karras_sigmas: true })).toBe('dpmpp-2m-karras');
  });
  it('a steps_offset that pushes leading timesteps past the schedule', () => {
    const s = createScheduler('ddim', { ...fixture(), timestep_spacing: 'leading', steps_offset: 600 });
    expect(() => s.setTimesteps(2)).toThrow('scheduler ddim: 2 steps with steps_offset 600 reach timestep 1100, outside the 1000 training timesteps');
    expect(() => createScheduler('dpmpp-2m', { ...fixture(), timestep_spacing: 'leading', steps_offset: 600 }).setTimesteps(2)).toThrow(/reach timestep 1266/);
  });
  it('scheduler-specific ranges', () => {
    expect(() => createScheduler('ddim', { ...fixture(), clip_sample_range: 0 })).toThrow('"clip_sample_range" must be above 0');
    expect(() => createScheduler('lcm', { ...fixture(), original_inference_steps: 5000 })).toThrow('"original_inference_steps" must be an integer in 1..1000, got 5000');
    expect(() => createScheduler('lcm', { ...fixture(), timestep_scaling: -1 })).toThrow('"timestep_scaling" must be above 0');
    expect(() => createScheduler('pndm', { ...fixture(), prediction_type: 'sample' })).toThrow('prediction_type "sample" is not supported (use epsilon, v_prediction)');
  });
});
