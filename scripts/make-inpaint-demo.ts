/**
 * Makes the embedded inpainting demo's two small PNGs from the embedded model, so a fresh machine
 * shows inpainting without downloads: an emoji the model draws, and a mask over its lower half
 * (the mouth) for the demo prompt to repaint.
 *     npx tsx scripts/make-inpaint-demo.ts
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encode } from 'fast-png';
import { EMOJI_INPAINT_DEMO as DEMO } from '../app/presets';
import { Engine } from '../engine/engine';
import { writePng } from '../engine/image/png';
import { toRgb8 } from '../engine/image/rgb';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const engine = new Engine();
const { images } = await engine.run({ model: join(root, 'assets/models/emoji-sd'), params: DEMO.source, variant: {} });
await engine.release();
const image = join(root, DEMO.image), mask = join(root, DEMO.mask);
mkdirSync(dirname(image), { recursive: true });
writePng(image, toRgb8(images[0]!), { parameters: `made by scripts/make-inpaint-demo.ts from: ${JSON.stringify(DEMO.source)}` });
// an ellipse over the lower half of the face: white = repaint
const { width: w, height: h } = images[0]!;
const m = new Uint8Array(w * h);
for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) if (((x - w / 2) / (w * 0.3)) ** 2 + ((y - h * 0.68) / (h * 0.16)) ** 2 <= 1) m[y * w + x] = 255;
writeFileSync(mask, encode({ width: w, height: h, data: m, channels: 1, depth: 8 }));
console.log(image, mask);
