/**
 * Makes the embedded ControlNet demo's control map: one held-out emoji's canny edges, cut out of
 * the first row of the ControlNet's samples.png (the maps its training scored), so a fresh machine
 * shows edges -> emoji without downloads.
 *     npx tsx scripts/make-controlnet-demo.ts
 */
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EMOJI_CONTROLNET_DEMO as DEMO } from '../app/presets';
import { readPng, writePng } from '../engine/image/png';
import { toRgb8 } from '../engine/image/rgb';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { samples, column, size: s } = DEMO.source;
const sheet = readPng(join(root, samples));
if (sheet.width < (column + 1) * s || sheet.height < s) throw new Error(`${samples}: ${sheet.width}x${sheet.height} has no map at column ${column}`);
const data = new Float32Array(s * s * 3);
for (let y = 0; y < s; y++) data.set(sheet.data.subarray((y * sheet.width + column * s) * 3, (y * sheet.width + (column + 1) * s) * 3), y * s * 3);
if (data.some((v) => v !== 0 && v !== 1)) throw new Error(`${samples}: column ${column} of the first row is not a black-and-white edge map`);
const out = join(root, DEMO.image);
mkdirSync(dirname(out), { recursive: true });
writePng(out, toRgb8({ width: s, height: s, data }), { parameters: `made by scripts/make-controlnet-demo.ts: column ${column} of ${samples}'s first row` });
console.log(out);
