import { describe, expect, it } from 'vitest';
import { findBaseline, staleReason, type BaselineKey } from '../../app/baseline';
import { Variant } from '../../app/variant';
import { GenerateParams } from '../../app/contract';

const key = (patch: Partial<BaselineKey> = {}): BaselineKey => ({
  modelHash: 'aaaaaaaaaaaa', engine: '0.1.0', params: GenerateParams.parse({ prompt: 'a cat', seed: 1, steps: 8 }), inputs: {}, repeats: 2,
  variant: Variant.parse({ label: 'base' }), ...patch,
});

describe('stale-baseline key (app/baseline.ts)', () => {
  it('equal keys match whatever their key order; the label does not count', () => {
    const reordered = { ...key(), params: Object.fromEntries(Object.entries(key().params).reverse()) } as BaselineKey;
    expect(staleReason(key(), reordered)).toBeUndefined();
    expect(staleReason(key(), key({ variant: Variant.parse({ label: 'other name' }) }))).toBeUndefined();
  });
  it.each([
    ['model', key({ modelHash: 'bbbbbbbbbbbb' }), 'the model changed (hash aaaaaaaaaaaa → bbbbbbbbbbbb)'],
    ['engine', key({ engine: '0.2.0' }), 'the engine changed (0.1.0 → 0.2.0)'],
    ['params', key({ params: GenerateParams.parse({ prompt: 'a dog', seed: 2, steps: 8 }) }), 'the parameters changed (prompt, seed)'],
    ['inputs', key({ inputs: { initImage: 'f00' } }), 'the input images changed (initImage)'],
    ['repeats', key({ repeats: 3 }), 'the repeats changed (2 → 3)'],
    ['variant', key({ variant: Variant.parse({ label: 'base', precision: 'fp16' }) }), "A's variant changed (precision)"],
  ])('a changed %s is named', (_, now, reason) => {
    expect(staleReason(key(), now)).toBe(reason);
  });
  it('the model is checked first: the reason is the most basic change', () => {
    expect(staleReason(key(), key({ modelHash: 'cccccccccccc', repeats: 9 }))).toMatch(/^the model changed/);
  });
  it('reuses the newest matching entry; otherwise says why the closest one does not fit', () => {
    const earlier = [{ id: 'new', key: key({ repeats: 5 }) }, { id: 'old', key: key() }, { id: 'older', key: key() }];
    expect(findBaseline(key(), earlier)).toEqual({ reusedFrom: 'old', message: 'A reused from run old' });
    expect(findBaseline(key({ modelHash: 'dddddddddddd' }), earlier)).toEqual({ message: 'A re-run: the model changed (hash aaaaaaaaaaaa → dddddddddddd)' });
    const near = [{ id: 'far', key: key({ repeats: 5, engine: 'x' }) }, { id: 'near', key: key({ repeats: 5 }) }];
    expect(findBaseline(key(), near)).toEqual({ message: 'A re-run: the repeats changed (5 → 2)' });
    expect(findBaseline(key(), [])).toEqual({ message: 'A run: no earlier run to reuse' });
  });
});
