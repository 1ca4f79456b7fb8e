import { describe, expect, it } from 'vitest';
import { decode } from 'fast-png';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodePng, readPng, writePng } from '../../engine/image/png';
import { infotext } from '../../engine/image/infotext';
import { toRgb8 } from '../../engine/image/rgb';

describe('PNG and infotext', () => {
  it('round-trips pixels and Latin-1 and UTF-8 text', () => {
    const data = Float32Array.from({ length: 4 * 2 * 3 }, (_, i) => i / 23);
    const png = encodePng(toRgb8({ width: 4, height: 2, data }), { parameters: 'plain', other: '東京 😀' });
    const back = decode(png);
    expect([back.width, back.height, back.channels]).toEqual([4, 2, 3]);
    expect(Array.from(back.data as Uint8Array)).toEqual(Array.from(data, (v) => Math.round(v * 255)));
    expect(back.text.parameters).toBe('plain');
    const path = join(mkdtempSync(join(tmpdir(), 'png-')), 'x.png');
    writePng(path, toRgb8({ width: 4, height: 2, data }), { parameters: 'plain', other: '東京 😀' });
    expect(readPng(path).text).toEqual({ parameters: 'plain', other: '東京 😀' });
  });
  it('infotext follows A1111: prompt, negative prompt, then key: value pairs (quoted when needed)', () => {
    const text = infotext({ prompt: 'a cat', negativePrompt: 'dog', seed: 7, steps: 20, guidance: 7.5, width: 64, height: 96, scheduler: 'euler-a', batch: 1 }, { Model: 'a, b' });
    expect(text).toBe('a cat\nNegative prompt: dog\nSteps: 20, Sampler: Euler a, CFG scale: 7.5, Seed: 7, Size: 64x96, Model: "a, b"');
  });
});
