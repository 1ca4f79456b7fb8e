import { describe, expect, it } from 'vitest';
import { encodePng } from '../../engine/image/png';
import { pngText } from '../../main/host/jobs/compare';
import { readPngInfo } from '../../renderer/store/png-info';

const png = (text: Record<string, string>) => encodePng({ width: 1, height: 1, data: Uint8Array.of(1, 2, 3) }, text);

describe('PNG info in (renderer/store/png-info.ts)', () => {
  it('the studio\'s own a.png infotext loads back into the inputs; model, provider and variant are listed', () => {
    const text = pngText({
      params: { prompt: 'grinning face', negativePrompt: 'blurry', seed: 9, steps: 12, guidance: 3, width: 128, height: 96, scheduler: 'dpmpp-2m', batch: 1 },
      model: { dir: '/m', name: 'emoji-sd', hash: '0123456789ab' }, provider: 'cpu', summary: 'provider cpu',
    }, 'baseline');
    const info = readPngInfo(png(text), 'a.png');
    expect(info.patch).toEqual({ prompt: 'grinning face', negativePrompt: 'blurry', seed: 9, seedLocked: true, steps: 12, guidance: 3, width: 128, height: 96, scheduler: 'dpmpp-2m' });
    expect(info.loaded).toEqual(['prompt', 'negative prompt', 'steps', 'sampler', 'guidance', 'seed', 'width', 'height']);
    expect(info.other).toEqual({ 'Model hash': '0123456789ab', Model: 'emoji-sd', Provider: 'cpu', Variant: 'baseline: provider cpu' });
  });
  it('a PNG without a parameters chunk, or not a PNG, is refused with what it has', () => {
    expect(() => readPngInfo(png({ Comment: 'hi' }), 'x.png')).toThrow('x.png: no "parameters" text chunk (not saved by A1111 or this studio); its text chunks: Comment');
    expect(() => readPngInfo(Uint8Array.of(1, 2, 3), 'y.png')).toThrow(/^y\.png: not a readable PNG/);
  });
});
