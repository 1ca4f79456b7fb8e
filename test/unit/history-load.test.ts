import { describe, expect, it } from 'vitest';
import { compareTitle, type HistorySummary } from '../../app/studio';
import { Variant } from '../../app/variant';
import { filterHistory } from '../../renderer/store/history';
import { fromVariant, toVariant } from '../../renderer/store/variants';

const entry = (id: string, patch: Partial<HistorySummary>): HistorySummary => ({
  id, kind: 'compare', createdAt: '2026-01-01T00:00:00Z', status: 'done', prompt: '', model: 'emoji-sd', title: '', variants: '', ...patch,
});

describe('history: titles, search, load into editors', () => {
  it('titles name what differs, the side without changes is "baseline"', () => {
    const a = Variant.parse({ label: 'baseline' });
    expect(compareTitle(a, Variant.parse({ label: 'x', deepcache: { interval: 3, branch: 0 } }))).toBe('DeepCache N=3 branch 0 uniform vs baseline');
    expect(compareTitle(a, Variant.parse({ label: 'y', deepcache: { interval: 5, branch: 1 }, precision: 'fp16' }))).toBe('fp16 + DeepCache N=5 branch 1 uniform vs baseline');
    expect(compareTitle(Variant.parse({ label: 'p', precision: 'fp16' }), Variant.parse({ label: 'q', precision: 'bf16' }))).toBe('bf16 vs fp16');
    expect(compareTitle(a, Variant.parse({ label: 'copy' }))).toBe('copy vs baseline (same options)');
  });
  it('search matches every word in prompt, title, variants or model; filters by model and kind', () => {
    const list = [
      entry('e1', { prompt: 'grinning face', title: 'DeepCache N=3 branch 0 uniform vs baseline' }),
      entry('e2', { prompt: 'red heart', title: 'fp16 vs baseline', model: 'tiny-sd', variants: 'A: baseline, provider cpu; B: half, fp16' }),
      entry('e3', { prompt: 'grinning cat', kind: 'sweep', title: 'DeepCache sweep' }),
    ];
    const ids = (q: Partial<Parameters<typeof filterHistory>[1]>) => filterHistory(list, { text: '', model: '', kind: '', ...q }).map((h) => h.id);
    expect(ids({ text: 'grinning' })).toEqual(['e1', 'e3']);
    expect(ids({ text: 'GRINNING n=3' })).toEqual(['e1']);
    expect(ids({ text: 'half' })).toEqual(['e2']);
    expect(ids({ text: 'tiny' })).toEqual(['e2']);
    expect(ids({ model: 'emoji-sd' })).toEqual(['e1', 'e3']);
    expect(ids({ kind: 'sweep' })).toEqual(['e3']);
    expect(ids({ text: 'nothing like it' })).toEqual([]);
  });
  it('a variant from an entry comes back into the editor form and out as the same variant', () => {
    const v = Variant.parse({ label: 'B', precision: 'fp16', deepcache: { interval: 4, branch: 2, schedule: [0, 4, 7] }, loras: [{ path: '/m/loras/x.safetensors', weight: 0.7 }] });
    const form = fromVariant(v, v.label);
    expect(form.deepcache.enabled).toBe(true);
    expect(Variant.parse(toVariant(form))).toEqual(v);
    const plain = Variant.parse({ label: 'A' });
    expect(fromVariant(plain, plain.label).deepcache.enabled).toBe(false);
    expect(Variant.parse(toVariant(fromVariant(plain, plain.label)))).toEqual(plain);
  });
});
