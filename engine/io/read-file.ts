import { closeSync, constants, fstatSync, openSync, readSync, statSync, type Stats } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';

/**
 * The engine's one way to read a file it was pointed at: never blocks (a named pipe, socket or
 * device is refused before any blocking open), always bounded, every failure names the path.
 */
export interface ReadLimits {
  /** Largest accepted size in bytes; a bigger file is refused before it is read. */
  maxBytes: number;
  /** What the file should be, for messages: "a JSON object naming the pipeline parts". */
  expected: string;
  /** Accept a zero-byte file (default: refused as "empty file"). */
  allowEmpty?: boolean;
}

export const KiB = 1024;
export const MiB = 1024 * KiB;
/** Per-kind bounds: configs are small; CLIP's vocab.json is ~1.6 MB, merges ~0.5 MB; protobuf caps a graph at 2 GiB. */
export const LIMITS = { json: 1 * MiB, tokenizer: 64 * MiB, onnx: 2 * 1024 * MiB } as const;
/** An ONNX graph file (weights beyond 2 GiB live in external data). */
export const ONNX_FILE: ReadLimits = { maxBytes: LIMITS.onnx, expected: 'an ONNX graph' };

// O_NONBLOCK: opening a FIFO that appeared after stat() returns at once instead of waiting for a writer
const FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0) | (constants.O_NOCTTY ?? 0);

/**
 * Opens a regular file of at most `maxBytes` without blocking, for readers that seek (safetensors):
 * the caller closes the fd. Returns it with the size checked on the open file.
 */
export function openBounded(path: string, limits: ReadLimits): { fd: number; size: number } {
  checkStats(path, statOrThrow(path, limits.expected, () => statSync(path)), limits);
  let fd: number;
  try {
    fd = openSync(path, FLAGS);
  } catch (e) {
    throw ioError(path, e, limits.expected);
  }
  try {
    return { fd, size: checkStats(path, fstatSync(fd), limits) };
  } catch (e) {
    closeSync(fd);
    throw ioError(path, e, limits.expected);
  }
}

/** Reads a whole regular file of at most `maxBytes`. */
export function readFileBounded(path: string, limits: ReadLimits): Buffer {
  const { fd, size } = openBounded(path, limits);
  try {
    const buf = Buffer.allocUnsafe(Math.min(size, limits.maxBytes) + 1);
    let n = 0;
    for (let got = -1; got !== 0 && n < buf.length; n += got) got = readSync(fd, buf, n, buf.length - n, n);
    return finish(path, buf.subarray(0, n), limits);
  } catch (e) {
    throw ioError(path, e, limits.expected);
  } finally {
    closeSync(fd);
  }
}

/** The same, without holding the event loop: the server reads through this one. */
export async function readFileBoundedAsync(path: string, limits: ReadLimits): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of readFileChunks(path, limits)) parts.push(chunk);
  return finish(path, Buffer.concat(parts), limits);
}

/**
 * A regular file in chunks, with the same refusals and bound, without holding the event loop:
 * for hashing multi-GB graphs (pass `maxBytes: Infinity`).
 */
export async function* readFileChunks(path: string, limits: ReadLimits, chunkBytes = 4 * MiB): AsyncGenerator<Buffer> {
  let fh: FileHandle;
  try {
    checkStats(path, await stat(path), limits);
    fh = await open(path, FLAGS);
  } catch (e) {
    throw ioError(path, e, limits.expected);
  }
  try {
    const size = checkStats(path, await fh.stat(), limits);
    for (let total = 0; ;) {
      const buf = Buffer.allocUnsafe(Math.max(1, Math.min(chunkBytes, size - total + 1)));
      const { bytesRead } = await fh.read(buf, 0, buf.length, total);
      if (bytesRead === 0) return;
      total += bytesRead;
      if (total > limits.maxBytes) throw tooLarge(path, total, limits); // it grew since fstat
      yield buf.subarray(0, bytesRead);
    }
  } catch (e) {
    throw ioError(path, e, limits.expected);
  } finally {
    await fh.close();
  }
}

/** UTF-8 text of a bounded read. */
export function readTextBounded(path: string, limits: ReadLimits): string {
  return readFileBounded(path, limits).toString('utf8');
}

/**
 * Checks without reading that `path` is a non-empty regular file within `maxBytes`: for files a
 * native library opens itself (onnxruntime's graphs), so a FIFO never reaches its blocking open.
 */
export function checkRegularFile(path: string, limits: ReadLimits): number {
  return checkStats(path, statOrThrow(path, limits.expected, () => statSync(path)), limits);
}

/** What a non-regular file is, in words. */
export function fileKind(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a named pipe (FIFO)';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  return st.isFile() ? 'a regular file' : 'not a regular file';
}

export function formatBytes(n: number): string {
  if (n >= MiB * 1024) return `${(n / (MiB * 1024)).toFixed(1)} GiB`;
  if (n >= MiB) return `${(n / MiB).toFixed(n % MiB === 0 ? 0 : 1)} MiB`;
  if (n >= KiB) return `${(n / KiB).toFixed(n % KiB === 0 ? 0 : 1)} KiB`;
  return `${n} bytes`;
}

function statOrThrow(path: string, expected: string, f: () => Stats): Stats {
  try {
    return f();
  } catch (e) {
    throw ioError(path, e, expected);
  }
}

/** Refuses anything but a regular file, an empty one (unless allowed) and one over the bound; returns the size. */
function checkStats(path: string, st: Stats, limits: ReadLimits): number {
  if (!st.isFile()) throw new ReadError(path, `is ${fileKind(st)}, not a regular file (expected ${limits.expected})`);
  if (st.size === 0 && !limits.allowEmpty) throw new ReadError(path, `empty file (expected ${limits.expected})`);
  if (st.size > limits.maxBytes) throw tooLarge(path, st.size, limits);
  return st.size;
}

/** The bytes read: still bounded if the file grew after fstat, still refused if it was emptied. */
function finish(path: string, buf: Buffer, limits: ReadLimits): Buffer {
  if (buf.length > limits.maxBytes) throw tooLarge(path, buf.length, limits);
  if (buf.length === 0 && !limits.allowEmpty) throw new ReadError(path, `empty file (expected ${limits.expected})`);
  return buf;
}

function tooLarge(path: string, size: number, limits: ReadLimits): ReadError {
  return new ReadError(path, `${formatBytes(size)} is over the ${formatBytes(limits.maxBytes)} limit (expected ${limits.expected})`);
}

/** A read failure that already names its path (passed through ioError unchanged). */
export class ReadError extends Error {
  constructor(readonly path: string, readonly detail: string, readonly code?: string) {
    super(`${path}: ${detail}`);
    this.name = 'ReadError';
  }
}

function ioError(path: string, e: unknown, expected: string): Error {
  if (e instanceof ReadError) return e;
  const code = (e as NodeJS.ErrnoException).code;
  const detail: Record<string, string> = {
    ENOENT: 'missing',
    ENOTDIR: 'missing (a parent is not a folder)',
    EACCES: 'permission denied',
    EPERM: 'permission denied',
    EISDIR: 'is a directory, not a regular file',
    ELOOP: 'too many levels of symbolic links',
    ENAMETOOLONG: 'path too long',
    EAGAIN: 'would block (not a regular file)',
    ENXIO: 'no such device or address (not a regular file)',
  };
  const what = (code && detail[code]) ?? `cannot read (${(e as Error).message})`;
  return new ReadError(path, `${what} (expected ${expected})`, code);
}
