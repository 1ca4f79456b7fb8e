import { openSync, statSync, utimesSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { inspectModel, modelHash } from '../../engine/model/folder';
import { FIXTURE_MODEL } from '../parity/reference';
import { modelCopy } from '../support/model-variants';

/** Overwrites a file's first byte in place (same inode and size) and sets its mtime to `at` seconds. */
function rewriteInPlace(path: string, at: number): void {
  const fd = openSync(path, 'r+');
  writeSync(fd, Buffer.from([0x20 ^ (statSync(path).size & 1)]), 0, 1, 0);
  closeSync(fd);
  utimesSync(path, at, at);
}

describe('modelHash is remembered while the hashed files are unchanged', () => {
  it('a second call reads no bytes; a touched file changes the key and the hash', async () => {
    const dir = modelCopy(FIXTURE_MODEL);
    const info = inspectModel(dir);
    const vocab = join(dir, 'tokenizer', 'vocab.json'), T = 1_700_000_000;
    utimesSync(vocab, T, T);
    const first = await modelHash(info);
    // new bytes behind the same (path, size, mtime, inode): a read would give another hash
    rewriteInPlace(vocab, T);
    expect(await modelHash(info)).toBe(first);
    // the same bytes, a new mtime: hashed again, now over the new bytes
    utimesSync(vocab, T + 1, T + 1);
    const touched = await modelHash(info);
    expect(touched).not.toBe(first);
    // the first call hashed the fixture's bytes (mtimes are not hashed)
    expect(await modelHash(inspectModel(FIXTURE_MODEL))).toBe(first);
  });
});
