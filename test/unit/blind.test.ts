import { describe, expect, it } from 'vitest';
import { BlindRequest, blindRows, blindStats, preferred, toCsv, wilson, type BlindPair, type BlindSession } from '../../app/blind';
import { Variant } from '../../app/variant';

const pair = (left: 'A' | 'B', vote: BlindPair['vote'], ssim = 0.8, patch: Partial<BlindPair> = {}): BlindPair => ({
  prompt: 'a cat', seed: 1, left, images: { a: 'pairs/1-a.png', b: 'pairs/1-b.png' }, ssim, vote, ...patch,
});

describe('blind A/B sessions (app/blind.ts)', () => {
  it('a vote for a side is undone into a verdict on the variants', () => {
    expect(preferred(pair('A', 'left'))).toBe('A');
    expect(preferred(pair('B', 'left'))).toBe('B');
    expect(preferred(pair('B', 'right'))).toBe('A');
    expect(preferred(pair('A', 'same'))).toBe('same');
    expect(preferred(pair('A', undefined))).toBeUndefined();
  });
  it('Wilson interval matches the textbook values', () => {
    const [lo, hi] = wilson(8, 10);
    expect(lo).toBeCloseTo(0.4902, 3);
    expect(hi).toBeCloseTo(0.9433, 3);
    expect(wilson(0, 0)).toEqual([0, 1]);
    const [l0, h0] = wilson(0, 5);
    expect(l0).toBe(0);
    expect(h0).toBeCloseTo(0.4345, 3);
  });
  it('stats: B rate over decided votes, counts, agreement with SSIM at the threshold', () => {
    const st = blindStats([pair('A', 'right'), pair('B', 'left'), pair('A', 'left'), pair('A', 'same', 0.99), pair('B', 'cant-tell', 0.5), pair('A', undefined)], 0.95);
    expect(st).toMatchObject({ voted: 5, total: 6, a: 1, b: 2, same: 1, cantTell: 1, bRate: 2 / 3 });
    expect(st.ci![0]).toBeCloseTo(wilson(2, 3)[0], 10);
    expect(st.agreement).toBeCloseTo(4 / 5, 10); // the "can't tell" at SSIM 0.5 disagrees
    expect(blindStats([pair('A', 'same')], 0.95).bRate).toBeUndefined();
  });
  it('export rows carry prompt, seed, both configs, side shown, vote, time; CSV quotes what needs it', () => {
    const s: BlindSession = { a: Variant.parse({ label: 'A' }), b: Variant.parse({ label: 'B', precision: 'fp16' }), prompts: ['x'], seeds: [1], pairs: [pair('B', 'left', 0.9, { prompt: 'a "red", heart', ms: 1234.4 })] };
    const rows = blindRows(s);
    expect(rows[0]).toMatchObject({ pair: 1, prompt: 'a "red", heart', seed: 1, shown_left: 'B', vote: 'left', preferred: 'B', time_to_vote_ms: 1234 });
    expect(JSON.parse(rows[0]!.config_b as string)).toEqual(s.b);
    const csv = toCsv(rows).split('\r\n');
    expect(csv[0]).toBe('pair,prompt,seed,config_a,config_b,shown_left,vote,preferred,time_to_vote_ms,voted_at,ssim');
    expect(csv[1]).toMatch(/^1,"a ""red"", heart",1,"\{""label"":""A""/);
  });
  it('requests are bounded: empty lists and more than 50 pairs are refused', () => {
    const base = { jobId: 'blind-123456', model: '/m', params: { prompt: '', seed: 0 }, a: { label: 'A' }, b: { label: 'B' } };
    expect(BlindRequest.safeParse({ ...base, prompts: [], seeds: [1] }).error?.issues[0]?.message).toBe('give at least one prompt');
    expect(BlindRequest.safeParse({ ...base, prompts: ['a'], seeds: [] }).error?.issues[0]?.message).toBe('give at least one seed');
    expect(BlindRequest.safeParse({ ...base, prompts: Array(11).fill('p'), seeds: [1, 2, 3, 4, 5] }).error?.issues[0]?.message).toBe('at most 50 pairs (prompts × seeds)');
    expect(BlindRequest.safeParse({ ...base, prompts: ['p'], seeds: [1, 2] }).success).toBe(true);
  });
});
