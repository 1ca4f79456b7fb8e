import { describe, expect, it } from 'vitest';
import { infotext, parseInfotext } from '../../app/infotext';

describe('infotext read back (PNG info in)', () => {
  it('round-trips the studio\'s own infotext; the pairs it does not load are kept in `other`', () => {
    const text = infotext({ prompt: 'a cat,\nsitting', negativePrompt: 'dog', seed: 7, steps: 20, guidance: 7.5, width: 64, height: 96, scheduler: 'euler-a', batch: 1 },
      { 'Model hash': 'abc123', Model: 'a, b', Variant: 'B: DeepCache N=3' });
    const p = parseInfotext(text);
    expect(p.params).toEqual({ prompt: 'a cat,\nsitting', negativePrompt: 'dog', seed: 7, steps: 20, guidance: 7.5, width: 64, height: 96, scheduler: 'euler-a' });
    expect(p.other).toEqual({ 'Model hash': 'abc123', Model: 'a, b', Variant: 'B: DeepCache N=3' });
  });
  it('reads A1111\'s own layout, its Karras schedule type, and lists its unknown fields', () => {
    const a1111 = 'masterpiece, 1girl\nNegative prompt: lowres, bad hands\nSteps: 28, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 1234567890, Size: 512x768, Model hash: 6ce0161689, Model: v1-5, Denoising strength: 0.45, Clip skip: 2, Version: v1.9.4';
    const p = parseInfotext(a1111);
    expect(p.params).toEqual({ prompt: 'masterpiece, 1girl', negativePrompt: 'lowres, bad hands', steps: 28, scheduler: 'dpmpp-2m-karras', guidance: 7, seed: 1234567890, width: 512, height: 768, strength: 0.45 });
    expect(p.other).toEqual({ 'Model hash': '6ce0161689', Model: 'v1-5', 'Clip skip': '2', Version: 'v1.9.4' });
  });
  it('an unknown sampler or a malformed value is listed, not loaded', () => {
    const p = parseInfotext('x\nSteps: 10, Sampler: UniPC, Seed: -3, Size: big');
    expect(p.params).toEqual({ prompt: 'x', negativePrompt: '', steps: 10 });
    expect(p.other).toEqual({ Sampler: 'UniPC', Seed: '-3', Size: 'big' });
  });
  it('text without a Steps line is refused with a clear error', () => {
    expect(() => parseInfotext('just a caption')).toThrow(/no "Steps: …" line/);
  });
});
