// Builds the emoji text-image dataset deterministically from npm packages (no network).
// Usage: node training/build-dataset.mjs [outDir=.train-carry/data] [size=128]
// Writes images.png.bin (concatenated PNGs, RGB on white) + index.json (concepts, images, sources).
import { writeFileSync, writeSync, mkdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { createHash } from 'node:crypto';
import { Resvg } from '@resvg/resvg-js';
import { getIconData, iconToSVG, iconToHTML } from '@iconify/utils';

const require = createRequire(import.meta.url);
const outDir = process.argv[2] || '.train-carry/data';
const SIZE = Number(process.argv[3] || 128);
const HELDOUT_PCT = 8; // % of concepts never shown to the generator (evaluation only)

// style word -> iconify set. Base model trains on the first three; the 4th is LoRA 1's.
const SETS = [
  { style: 'twemoji', pkg: '@iconify-json/twemoji' },
  { style: 'noto', pkg: '@iconify-json/noto' },
  { style: 'fluent', pkg: '@iconify-json/fluent-emoji-flat' },
  { style: 'openmoji', pkg: '@iconify-json/openmoji' },
];

const pkgInfo = (name) => {
  const p = require(`${name}/package.json`);
  return { package: name, version: p.version, license: p.license };
};
const sources = SETS.map((s) => {
  const info = require(`${s.pkg}/info.json`);
  return { ...pkgInfo(s.pkg), style: s.style, name: info.name, author: info.author, licenseInfo: info.license };
});
const sets = SETS.map((s) => ({ ...s, icons: require(`${s.pkg}/icons.json`), chars: require(`${s.pkg}/chars.json`) }));
const norm = (hex) => hex.toLowerCase().split('-').filter((h) => h !== 'fe0f').join('-');
for (const s of sets) {
  s.byHex = new Map();
  for (const [hex, name] of Object.entries(s.chars)) s.byHex.set(norm(hex), name);
}

// Concepts: emojibase base emoji (skin tones are nested, so excluded), minus components and flags
// (270 near-identical rectangles whose names carry no visual meaning).
const data = require('emojibase-data/en/data.json');
const concepts = [];
for (const e of data) {
  if (e.group === undefined || e.group === 2 || e.group === 9) continue;
  const names = sets.map((s) => s.byHex.get(norm(e.hexcode)));
  if (names.some((n) => !n)) continue; // keep concepts present in all four sets
  const h = createHash('sha256').update(e.hexcode).digest();
  concepts.push({ hex: e.hexcode, label: e.label.toLowerCase(), tags: e.tags || [], group: e.group,
    subgroup: e.subgroup, heldout: h.readUInt32BE(0) % 100 < HELDOUT_PCT, icons: names });
}
concepts.sort((a, b) => (a.hex < b.hex ? -1 : 1));

mkdirSync(outDir, { recursive: true });
const jobs = concepts.flatMap((c, ci) => sets.map((s, si) => [ci, si]));
const renderJob = ([ci, si]) => {
  const s = sets[si];
  const r = iconToSVG(getIconData(s.icons, concepts[ci].icons[si]), { height: SIZE, width: SIZE });
  const svg = iconToHTML(r.body, { ...r.attributes, xmlns: 'http://www.w3.org/2000/svg', 'xmlns:xlink': 'http://www.w3.org/1999/xlink' });
  return new Resvg(svg, { fitTo: { mode: 'width', value: SIZE }, background: 'white', font: { loadSystemFonts: false } })
    .render().asPng();
};

// resvg aborts the process (Rust panic) on a few SVGs: render in a child process that streams
// length-prefixed PNGs; when it dies, the job it was on is recorded as failed and the rest resumes.
if (process.env.EMOJI_WORKER) {
  for (let j = Number(process.env.EMOJI_WORKER); j < jobs.length; j++) {
    const png = renderJob(jobs[j]);
    const head = Buffer.alloc(8); head.writeUInt32LE(j, 0); head.writeUInt32LE(png.length, 4);
    writeSync(1, head); writeSync(1, png);
  }
  process.exit(0);
}
const results = new Array(jobs.length).fill(null);
const failed = [];
const t0 = Date.now();
for (let next = 0; next < jobs.length;) {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), outDir, String(SIZE)],
    { env: { ...process.env, EMOJI_WORKER: String(next) }, maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'ignore'] });
  const out = r.stdout;
  let p = 0;
  while (p + 8 <= out.length) {
    const j = out.readUInt32LE(p), n = out.readUInt32LE(p + 4);
    if (p + 8 + n > out.length) break;
    results[j] = out.subarray(p + 8, p + 8 + n); next = j + 1; p += 8 + n;
  }
  if (r.status !== 0 && next < jobs.length) { failed.push(next); next += 1; }
  console.log(`rendered ${next}/${jobs.length}, failed ${failed.length}, ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}
// drop concepts with any failed render, so every concept has all four styles
const bad = new Set(failed.map((j) => jobs[j][0]));
const dropped = [...bad].map((ci) => ({ hex: concepts[ci].hex, label: concepts[ci].label, style: failed.filter((j) => jobs[j][0] === ci).map((j) => sets[jobs[j][1]].style) }));
const keep = concepts.map((c, ci) => ci).filter((ci) => !bad.has(ci));
const remap = new Map(keep.map((ci, k) => [ci, k]));
const pngs = [], images = [];
let off = 0;
jobs.forEach(([ci, si], j) => {
  if (bad.has(ci)) return;
  images.push({ concept: remap.get(ci), style: si, offset: off, length: results[j].length });
  pngs.push(results[j]); off += results[j].length;
});
concepts.splice(0, concepts.length, ...keep.map((ci) => concepts[ci]));
const bin = Buffer.concat(pngs);
writeFileSync(`${outDir}/images.png.bin`, bin);
const index = {
  size: SIZE, styles: SETS.map((s) => s.style), heldoutPct: HELDOUT_PCT,
  sources: [...sources, { ...pkgInfo('emojibase-data'), role: 'captions (labels, tags)' },
    { ...pkgInfo('@resvg/resvg-js'), role: 'SVG rasteriser' }, { ...pkgInfo('@iconify/utils'), role: 'icon to SVG' }],
  dropped, concepts: concepts.map(({ icons, ...c }) => ({ ...c, iconNames: icons })), images,
  sha256: createHash('sha256').update(bin).digest('hex'),
};
writeFileSync(`${outDir}/index.json`, JSON.stringify(index));
console.log(`${concepts.length} concepts (${concepts.filter((c) => c.heldout).length} held out), ${images.length} images, ` +
  `${(bin.length / 1e6).toFixed(1)} MB PNG, sha256 ${index.sha256.slice(0, 16)}, ${((Date.now() - t0) / 1000).toFixed(1)} s`);
