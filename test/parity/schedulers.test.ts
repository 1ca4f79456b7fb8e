import { describe, expect, it } from 'vitest';
import { createScheduler } from '../../engine/schedulers/registry';
import { reference } from './reference';

const BASE = JSON.parse(JSON.stringify(reference.runs[0]!.schedulerConfig)) as Record<string, unknown>;

describe('schedulers resolve configs and timesteps as diffusers does', () => {
  for (const r of reference.runs.filter((x) => x.strength === null)) {
    it(`${r.name}: timesteps and resolved config`, () => {
      const s = createScheduler(r.scheduler, { ...sd15(), ...r.overrides });
      s.setTimesteps(r.steps);
      expect(s.timesteps.length).toBe(r.timesteps.length);
      s.timesteps.forEach((t, i) => expect(t).toBeCloseTo(r.timesteps[i]!, 3));
      for (const [k, v] of Object.entries(s.config)) {
        if (k in r.schedulerConfig && typeof v !== 'object') expect([k, v]).toEqual([k, r.schedulerConfig[k]]);
      }
    });
  }

  it('refuses more steps than training timesteps, and unknown names/values, with the reason', () => {
    expect(() => createScheduler('ddim', sd15()).setTimesteps(1001)).toThrow('1001 steps cannot be more than the 1000 training timesteps');
    expect(() => createScheduler('heun', sd15())).toThrow('unknown scheduler "heun" (use pndm, ddim, euler, euler-a, dpmpp-2m, dpmpp-2m-karras, lcm)');
    expect(() => createScheduler('euler', { ...sd15(), beta_schedule: 'cubic' })).toThrow('beta_schedule "cubic" is not supported');
    expect(() => createScheduler('ddim', { ...sd15(), timestep_spacing: 'random' }).setTimesteps(4)).toThrow('timestep_spacing "random" is not supported');
    expect(() => createScheduler('euler', { ...sd15(), prediction_type: 'flow' })).toThrow('prediction_type "flow" is not supported');
    expect(() => createScheduler('ddim', { ...sd15(), clip_sample: 'yes' })).toThrow('config key "clip_sample" should be a boolean');
    expect(() => createScheduler('lcm', sd15()).setTimesteps(60)).toThrow('60 steps cannot be more than original_inference_steps (50)');
  });
});

/** SD 1.5's scheduler_config.json, as the fixture folder has it. */
function sd15(): Record<string, unknown> {
  const keys = ['beta_end', 'beta_schedule', 'beta_start', 'num_train_timesteps', 'set_alpha_to_one', 'skip_prk_steps', 'steps_offset', 'clip_sample'];
  return Object.fromEntries(keys.map((k) => [k, BASE[k]]));
}
