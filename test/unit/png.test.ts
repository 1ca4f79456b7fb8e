import { describe, expect, it } from 'vitest';
import { decode } from 'fast-png';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { crc32, deflateSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodePng, encodePng, insertBeforeEnd, pngChunk, readPng, writePng } from '../../engine/image/png';
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

/** A real 1x1 PNG whose IHDR then declares `width` x `height` (CRC fixed, so only the size is wrong). */
function declaring(width: number, height: number): Buffer {
  const png = Buffer.from(encodePng({ width: 1, height: 1, data: Uint8Array.of(10, 20, 30) }));
  png.writeUInt32BE(width, 16);
  png.writeUInt32BE(height, 20);
  png.writeUInt32BE(crc32(png.subarray(12, 29)), 29);
  return png;
}

/** A PNG of chunks: IHDR (8-bit RGB, `interlace` 0 or 1), one IDAT of `raw` deflated, IEND. */
function pngOf(width: number, height: number, raw: Buffer, interlace = 0): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, interlace], 8);
  const sig = Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]);
  const bare = Buffer.concat([sig, pngChunk('IHDR', ihdr), pngChunk('IEND', Buffer.alloc(0))]);
  return Buffer.from(insertBeforeEnd(bare, [pngChunk('IDAT', deflateSync(raw))]));
}

describe('PNG input limits: checked from the IHDR before anything is inflated, naming the file and the limit', () => {
  const dir = mkdtempSync(join(tmpdir(), 'png-limits-'));
  it('a small file declaring 8000x8000 is refused (it would take gigabytes to decode)', () => {
    const path = join(dir, 'huge.png');
    writeFileSync(path, declaring(8000, 8000));
    expect(() => readPng(path)).toThrow(/huge\.png: the image is 8000x8000, over the limit of 4096 pixels a side/);
  });
  it('one side over the limit is enough', () => {
    expect(() => decodePng(declaring(4097, 1), 'wide.png')).toThrow(/wide\.png: the image is 4097x1, over the limit of 4096 pixels a side/);
  });
  it('a 0x0 image is refused as such', () => {
    const path = join(dir, 'empty.png');
    writeFileSync(path, declaring(0, 0));
    expect(() => readPng(path)).toThrow(/empty\.png: the image is 0x0; an image needs at least 1x1 pixels/);
  });
  it('bytes that are not a PNG are refused by their signature', () => {
    const path = join(dir, 'photo.png');
    writeFileSync(path, Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 16, 74, 70, 73, 70, 0]));
    expect(() => readPng(path)).toThrow(/photo\.png: not a PNG file \(no PNG signature\)/);
    expect(() => decodePng(Buffer.from('hello'), 'text.png')).toThrow(/text\.png: not a PNG file/);
    expect(() => decodePng(declaring(1, 1).subarray(0, 20), 'cut.png')).toThrow(/cut\.png: not a readable PNG \(no IHDR chunk/);
  });
  it('compressed text that inflates past 1 MiB is refused, not inflated to the end', () => {
    const bomb = Buffer.concat([Buffer.from('parameters\0\x01\0\0\0', 'latin1'), deflateSync(Buffer.alloc(8 * 1024 * 1024, 0x41))]);
    const png = insertBeforeEnd(encodePng({ width: 1, height: 1, data: Uint8Array.of(1, 2, 3) }), [pngChunk('iTXt', bomb)]);
    expect(() => decodePng(png, 'bomb.png')).toThrow(/bomb\.png: the iTXt chunk "parameters" cannot be read within 1048576 bytes/);
  });
  it('the largest allowed image still decodes; encodePng refuses data of the wrong length', () => {
    const big = decodePng(encodePng({ width: 4096, height: 1, data: new Uint8Array(4096 * 3).fill(255) }), 'edge.png');
    expect([big.width, big.height, big.data[0]]).toEqual([4096, 1, 1]);
    expect(() => encodePng({ width: 2, height: 2, data: new Uint8Array(11) })).toThrow(/2x2 RGB needs 12 bytes, got 11/);
  });
  it('pixel data that inflates past what the IHDR declares (a bomb in a 1x1 image) is refused', () => {
    const bomb = pngOf(1, 1, Buffer.alloc(8 * 1024 * 1024));
    expect(bomb.length).toBeLessThan(20_000);
    expect(() => decodePng(bomb, 'bomb1x1.png')).toThrow(/bomb1x1\.png: its pixel data inflates past the 4 bytes a 1x1 image holds/);
  });
  it('an Adam7-interlaced image inflates to exactly its passes and decodes', () => {
    // 3x3 RGB: passes 1, 4, 6 and 7 hold pixels (0,0); (2,0); (0,2) (2,2); (1,0) | (1,2); (0..2,1)
    const px = (x: number, y: number) => [x * 80, y * 80, 40];
    const rows = [[[0, 0]], [[2, 0]], [[0, 2], [2, 2]], [[1, 0]], [[1, 2]], [[0, 1], [1, 1], [2, 1]]];
    const raw = Buffer.from(rows.flatMap((row) => [0, ...row.flatMap(([x, y]) => px(x!, y!))]));
    const img = decodePng(pngOf(3, 3, raw, 1), 'adam7.png');
    expect(Array.from(img.data, (v) => Math.round(v * 255))).toEqual([0, 1, 2].flatMap((y) => [0, 1, 2].flatMap((x) => px(x, y))));
  });
});
