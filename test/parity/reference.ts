import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';

/** diffusers' recorded outputs on the tiny fixture model (made by test/parity/reference/make_tiny_sd.py). */
export const FIXTURE_MODEL = fileURLToPath(new URL('../fixtures/tiny-sd', import.meta.url));

export interface ReferenceRun {
  name: string;
  scheduler: string;
  schedulerConfig: Record<string, unknown>;
  overrides: Record<string, unknown>;
  steps: number;
  seed: number;
  guidance: number;
  prompt: string;
  negativePrompt: string | null;
  batch: number;
  strength: number | null;
  width: number;
  height: number;
  timesteps: number[];
  latentShape: number[];
  latents: string[];
  imageShape: number[];
  image: string;
}

export interface Reference {
  diffusers: string;
  torch: string;
  noise: { seed: number; shape: number[]; first: string; second: string }[];
  tokenizer: { prompt: string; ids: number[] }[];
  runs: ReferenceRun[];
  init_image: string;
}

/** Reads a gzipped JSON fixture (the reference scripts' output, `gzip -9`ed to keep the repo small). */
export function readFixture<T>(name: string): T {
  return JSON.parse(gunzipSync(readFileSync(fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url)))).toString('utf8')) as T;
}

export const reference = readFixture<Reference>('tiny-sd-reference.json.gz');

export function f32(b64: string): Float32Array {
  const buf = Buffer.from(b64, 'base64');
  return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
}

/** Images were stored as uint16 (value × 65535) to keep the fixture small. */
export function imageFromU16(b64: string): Float32Array {
  const buf = Buffer.from(b64, 'base64');
  const u = new Uint16Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  return Float32Array.from(u, (v) => v / 65535);
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
