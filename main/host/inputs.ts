import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, realpathSync } from 'node:fs';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { decode } from 'fast-png';
import type { ImageRef, RunInputs } from '../../app/run-request';
import { MAX_UPLOAD_BYTES, type StoredImage } from '../../app/studio';
import { writeFileAtomic } from './atomic';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
/** The contract's size limit (app/contract.ts caps width and height at 4096). */
const MAX_SIDE = 4096;

/**
 * The workspace's image store: uploads kept once under <workspace>/inputs/<sha256>.png, and the
 * one place image refs are resolved. A `{path}` ref must lie inside the workspace (after
 * symlinks): nothing a client sends can make the engine read a file elsewhere.
 */
export class InputStore {
  readonly dir: string;

  constructor(readonly workspace: string) {
    this.dir = join(workspace, 'inputs');
  }

  /** Validates the bytes as a PNG the engine can take and stores them by content hash. */
  put(png: Uint8Array): StoredImage {
    if (png.length > MAX_UPLOAD_BYTES) throw new Error(`inputs.upload: the PNG is ${png.length} bytes; at most ${MAX_UPLOAD_BYTES} are accepted`);
    const { width, height } = decodePng(png, 'inputs.upload');
    const sha256 = createHash('sha256').update(png).digest('hex');
    const path = join(this.dir, `${sha256}.png`);
    if (!existsSync(path)) {
      mkdirSync(this.dir, { recursive: true });
      writeFileAtomic(path, png);
    }
    return { ref: { sha256 }, width, height, bytes: png.length };
  }

  /** The absolute path of a ref's PNG; the error names the ref and what is wrong with it. */
  resolve(ref: ImageRef, what = 'image'): string {
    const path = 'sha256' in ref ? join(this.dir, `${ref.sha256}.png`) : resolve(this.workspace, ref.path);
    const shown = 'sha256' in ref ? `sha256 ${ref.sha256.slice(0, 12)}…` : ref.path;
    if (!existsSync(path)) {
      throw new Error('sha256' in ref ? `${what} ${shown}: not in the workspace's image store (upload it with inputs.upload)` : `${what} ${shown}: no such file`);
    }
    const real = realpathSync(path);
    const rel = relative(realpathSync(this.workspace), real);
    if (rel === '' || rel.split(sep)[0] === '..' || isAbsolute(rel)) throw new Error(`${what} ${shown}: outside the workspace (${this.workspace}); the studio reads images only from there`);
    if (!hasPngSignature(real)) throw new Error(`${what} ${shown}: not a PNG file`);
    return real;
  }

  /** Every ref of a run's inputs as a checked absolute path: what the engine host is handed. */
  resolveAll(inputs: RunInputs): RunInputs {
    return Object.fromEntries(Object.entries(inputs).map(([k, ref]) => [k, Array.isArray(ref) ? ref.map((r, i) => ({ path: this.resolve(r, `${k}[${i}]`) })) : { path: this.resolve(ref, k) }]));
  }

  /** Each input's content hash (the stale-baseline key: a path's file may change under the same name). */
  contentHashes(inputs: RunInputs): Record<string, string> {
    const hash = (ref: ImageRef, k: string): string => 'sha256' in ref ? ref.sha256 : createHash('sha256').update(readFileSync(this.resolve(ref, k))).digest('hex');
    return Object.fromEntries(Object.entries(inputs).map(([k, ref]) => [k, Array.isArray(ref) ? ref.map((r, i) => hash(r, `${k}[${i}]`)).join(',') : hash(ref, k)]));
  }

  /** A ref's image as the picker shows it. */
  read(ref: ImageRef): StoredImage & { dataUrl: string } {
    const png = readFileSync(this.resolve(ref));
    const { width, height } = decodePng(png, 'inputs.get');
    return { ref, width, height, bytes: png.length, dataUrl: `data:image/png;base64,${png.toString('base64')}` };
  }
}

function decodePng(png: Uint8Array, what: string): { width: number; height: number } {
  if (!PNG_SIGNATURE.equals(Buffer.from(png.subarray(0, 8)))) throw new Error(`${what}: not a PNG (the file does not start with the PNG signature)`);
  let img: ReturnType<typeof decode>;
  try {
    img = decode(png);
  } catch (e) {
    throw new Error(`${what}: not a readable PNG (${(e as Error).message})`);
  }
  if (img.width > MAX_SIDE || img.height > MAX_SIDE) throw new Error(`${what}: the image is ${img.width}x${img.height}; at most ${MAX_SIDE}x${MAX_SIDE} is accepted`);
  return { width: img.width, height: img.height };
}

function hasPngSignature(path: string): boolean {
  const head = Buffer.alloc(8);
  const fd = openSync(path, 'r');
  try {
    return readSync(fd, head, 0, 8, 0) === 8 && head.equals(PNG_SIGNATURE);
  } finally {
    closeSync(fd);
  }
}
