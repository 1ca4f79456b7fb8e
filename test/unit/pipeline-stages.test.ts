import { describe, expect, it } from 'vitest';
import { TorchGenerator } from '../../engine/noise/generator';
import { createScheduler } from '../../engine/schedulers/registry';
import { condHalf, mapFeeds } from '../../engine/pipeline/loop';
import { perImage } from '../../engine/pipeline/stages/conditioning';
import { imageLatents, strengthStart } from '../../engine/pipeline/stages/latents';
import { textOutputNames } from '../../engine/pipeline/stages/text-encoder';
import { inspectModel } from '../../engine/model/model';
import { FIXTURE_MODEL } from '../parity/reference';

describe('pipeline stages', () => {
  it('text encoder outputs are picked by name: last, penultimate (second last hidden_states.N), pooled', () => {
    expect(textOutputNames(['last_hidden_state'])).toEqual({ last: 'last_hidden_state', penultimate: undefined, pooled: undefined });
    // SDXL's text_encoder_2 as Optimum exports it (hidden states out of order on purpose)
    const sdxl = ['text_embeds', 'last_hidden_state', 'hidden_states.10', 'hidden_states.2', 'hidden_states.11', 'hidden_states.0'];
    expect(textOutputNames(sdxl)).toEqual({ last: 'last_hidden_state', penultimate: 'hidden_states.10', pooled: 'text_embeds' });
    expect(textOutputNames(['out', 'pooler_output'])).toEqual({ last: 'out', penultimate: undefined, pooled: 'pooler_output' });
  });

  it('every conditioning feed is laid out [negative × batch; positive × batch], and CFG truncation keeps the positive half of each', () => {
    const rows = { data: Float32Array.of(1, 1, 2, 2), dims: [2, 2] };
    const feeds = { encoder_hidden_states: perImage(rows, 2), time_ids: perImage({ data: Float32Array.of(7, 8), dims: [2, 1] }, 2) };
    expect([...feeds.encoder_hidden_states.data]).toEqual([1, 1, 1, 1, 2, 2, 2, 2]);
    expect(feeds.encoder_hidden_states.dims).toEqual([4, 2]);
    const cond = mapFeeds(feeds, condHalf);
    expect([...cond.encoder_hidden_states.data]).toEqual([2, 2, 2, 2]);
    expect([...cond.time_ids.data]).toEqual([8, 8]);
    expect(cond.time_ids.dims).toEqual([2, 1]);
  });

  it('img2img starts part-way; a masked start at full strength is pure noise (diffusers is_strength_max)', () => {
    const config = inspectModel(FIXTURE_MODEL).schedulerConfig;
    const s = createScheduler('ddim', config);
    s.setTimesteps(10);
    const ts = strengthStart(s, 10, 0.5);
    expect(ts).toEqual(s.timesteps.slice(5));
    const x0 = new Float32Array(8).fill(3);
    const noised = imageLatents(x0, new TorchGenerator(1), [1, 2, 2, 2], s, ts[0]!);
    const pure = imageLatents(x0, new TorchGenerator(1), [1, 2, 2, 2], s, ts[0]!, true, 1);
    expect([...pure]).toEqual([...new TorchGenerator(1).randn([1, 2, 2, 2])].map((v) => v * s.initNoiseSigma));
    expect([...noised]).not.toEqual([...pure]);
  });
});
