import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

let counter = 0;
export const TMP_MARK = '.tmp-';

/**
 * Write-to-temp, fsync, rename: a reader (or the next start after a crash or kill) sees the old
 * file or the new one, never half of one. Temp names carry TMP_MARK so listings can skip them.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const tmp = `${path}${TMP_MARK}${process.pid}-${counter++}`;
  try {
    const fd = openSync(tmp, 'w');
    try {
      const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
      for (let off = 0; off < buf.length; ) off += writeSync(fd, buf, off, buf.length - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  syncDir(dirname(path));
}

export function writeJsonAtomic(path: string, value: unknown): void {
  writeFileAtomic(path, `${JSON.stringify(value, null, 1)}\n`);
}

/** Makes the rename itself durable; not every platform can open a folder, so best effort. */
function syncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    /* Windows cannot fsync a directory */
  }
}
