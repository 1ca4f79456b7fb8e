// Cuts a built dataset down to the images of its first N concepts (all concepts stay listed), so a
// GPU call can run `emoji_sd.py --smoke` (every stage, tiny data) without carrying the full 27 MB.
// Usage: node training/smoke-slice.mjs <builtDir> <outDir> [N=40]
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';

const [src, dst, n = '40'] = process.argv.slice(2);
if (!src || !dst) throw new Error('usage: smoke-slice.mjs <builtDir> <outDir> [N]');
const index = JSON.parse(readFileSync(`${src}/index.json`, 'utf8'));
const bin = readFileSync(`${src}/images.png.bin`);
const parts = [];
let off = 0;
index.images = index.images.filter((im) => im.concept < Number(n)).map((im) => {
  parts.push(bin.subarray(im.offset, im.offset + im.length));
  const moved = { ...im, offset: off };
  off += im.length;
  return moved;
});
mkdirSync(dst, { recursive: true });
writeFileSync(`${dst}/images.png.bin`, Buffer.concat(parts));
writeFileSync(`${dst}/index.json`, JSON.stringify({ ...index, sha256: null, smokeSliceOf: index.sha256 }));
console.log(`${index.images.length} images of ${n} concepts, ${(off / 1e6).toFixed(2)} MB`);
