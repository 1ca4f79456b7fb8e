/**
 * The embedded emoji ControlNet through the engine: with an empty prompt the image follows the
 * control edges far better than the same seed without it. F1 with a 1-pixel tolerance, as
 * training/emoji_controlnet.py's edge_follow scores it; the maps are samples.png's top row
 * (canny edges of held-out emojis, from the training run).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { canny } from '../../app/canny';
import { CANNY_DEFAULTS } from '../../app/controlnet';
import { Engine } from '../../engine/engine';
import { readPng, writePng } from '../../engine/image/png';
import { toRgb8, type RgbImage } from '../../engine/image/rgb';

const MODEL = fileURLToPath(new URL('../../assets/models/emoji-sd', import.meta.url));
const CN = join(MODEL, '..', 'emoji-sd-controlnet-canny');
const S = 128;

/** Edge pixels with an edge of `other` in their 3x3 neighbourhood, over all edge pixels of `e`. */
function matched(e: Uint8Array, other: Uint8Array): number {
  let n = 0, hit = 0;
  for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) {
    if (!e[y * S + x]) continue;
    n++;
    search: for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) {
      const yy = y + dy, xx = x + dx;
      if (yy >= 0 && yy < S && xx >= 0 && xx < S && other[yy * S + xx]) { hit++; break search; }
    }
  }
  return hit / Math.max(n, 1);
}
function edgeF1(got: Uint8Array, want: Uint8Array): number {
  const p = matched(got, want), r = matched(want, got);
  return (2 * p * r) / Math.max(p + r, 1e-9);
}

/** The 8 control maps of samples.png's first row, as 0/1 edges (and checked to be pure edge maps). */
function controlMaps(): Uint8Array[] {
  const img = readPng(join(CN, 'samples.png'));
  return Array.from({ length: img.width / S }, (_, k) => {
    const e = new Uint8Array(S * S);
    for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) {
      const v = img.data[(y * img.width + k * S + x) * 3]!;
      if (v !== 0 && v !== 1) throw new Error(`samples.png: control map ${k} has a grey pixel (${v}) at ${x},${y}`);
      e[y * S + x] = v;
    }
    return e;
  });
}

describe('the embedded emoji ControlNet (edges -> emoji), engine side', () => {
  const engine = new Engine(mkdtempSync(join(tmpdir(), 'cn-emoji-')));
  afterAll(() => engine.release());
  const dir = mkdtempSync(join(tmpdir(), 'cn-maps-'));

  it('empty prompt: the generated edges match the control edges better with the ControlNet than without (same seeds)', async () => {
    const maps = controlMaps();
    expect(maps).toHaveLength(8);
    const f1 = { with: [] as number[], without: [] as number[] };
    for (const [k, e] of maps.entries()) {
      const path = join(dir, `map-${k}.png`);
      writePng(path, toRgb8({ width: S, height: S, data: Float32Array.from({ length: S * S * 3 }, (_, i) => e[Math.floor(i / 3)]!) }));
      for (const scale of [1, 0]) {
        const { images } = await engine.run({
          model: MODEL, variant: {}, inputs: { controlImage: { path } },
          params: { prompt: '', seed: 5 + k, steps: 15, guidance: 1, controlnet: { units: [{ dir: CN, scale }] } },
        });
        const img: RgbImage = images[0]!;
        const got = canny(toRgb8(img).data, S, S, 3, CANNY_DEFAULTS.low, CANNY_DEFAULTS.high);
        (scale ? f1.with : f1.without).push(edgeF1(got, e));
      }
    }
    const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
    console.log(`edge F1 per map, with: ${f1.with.map((v) => v.toFixed(3)).join(' ')}; without: ${f1.without.map((v) => v.toFixed(3)).join(' ')}; means ${mean(f1.with).toFixed(3)} vs ${mean(f1.without).toFixed(3)}`);
    expect(mean(f1.with)).toBeGreaterThan(mean(f1.without) + 0.3);
    expect(f1.with.filter((v, i) => v > f1.without[i]!).length).toBeGreaterThanOrEqual(7);
  }, 600_000);
});
