import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkRegularFile, readFileBounded, readFileBoundedAsync, readFileChunks, type ReadLimits } from '../../engine/io/read-file';

const dir = mkdtempSync(join(tmpdir(), 'read-file-'));
const p = (name: string): string => join(dir, name);
const limits: ReadLimits = { maxBytes: 1024, expected: 'a test file' };
let server: Server;

beforeAll(async () => {
  writeFileSync(p('ok.txt'), 'hello');
  writeFileSync(p('empty.txt'), '');
  writeFileSync(p('big.txt'), Buffer.alloc(1025, 97));
  writeFileSync(p('secret.txt'), 'x');
  chmodSync(p('secret.txt'), 0o000);
  writeFileSync(p('sparse.bin'), '');
  truncateSync(p('sparse.bin'), 2 * 1024 ** 3);
  mkdirSync(p('folder'));
  execFileSync('mkfifo', [p('fifo')]);
  symlinkSync(p('fifo'), p('link-to-fifo'));
  server = createServer();
  await new Promise<void>((r) => server.listen(p('sock'), r));
});
afterAll(() => {
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

const root = process.getuid?.() === 0;
const cases: [string, string, RegExp][] = [
  ['a missing file', p('nope.txt'), /nope\.txt: missing \(expected a test file\)/],
  ['a path under a file', p('ok.txt/x'), /ok\.txt\/x: missing \(a parent is not a folder\)/],
  ['a zero-byte file', p('empty.txt'), /empty\.txt: empty file \(expected a test file\)/],
  ['a file over the bound', p('big.txt'), /big\.txt: 1\.0 KiB is over the 1 KiB limit/],
  ['a 2 GiB sparse file, refused before reading', p('sparse.bin'), /sparse\.bin: 2\.0 GiB is over the 1 KiB limit/],
  ['a directory', p('folder'), /folder: is a directory, not a regular file/],
  ['a named pipe', p('fifo'), /fifo: is a named pipe \(FIFO\), not a regular file \(expected a test file\)/],
  ['a symlink to a named pipe', p('link-to-fifo'), /link-to-fifo: is a named pipe \(FIFO\)/],
  ['a socket', p('sock'), /sock: is a socket, not a regular file/],
  ['a character device', '/dev/zero', /\/dev\/zero: is a character device, not a regular file/],
];

describe('bounded non-blocking reads: every refusal names the path and what it is', () => {
  it('reads a regular file, sync and async', async () => {
    expect(readFileBounded(p('ok.txt'), limits).toString()).toBe('hello');
    expect((await readFileBoundedAsync(p('ok.txt'), limits)).toString()).toBe('hello');
    expect(readFileBounded(p('empty.txt'), { ...limits, allowEmpty: true }).length).toBe(0);
    expect(checkRegularFile(p('ok.txt'), limits)).toBe(5);
  });
  it.each(cases)('%s (sync, and without blocking)', (_, path, message) => {
    const t0 = performance.now();
    expect(() => readFileBounded(path, limits)).toThrow(message);
    expect(() => checkRegularFile(path, limits)).toThrow(message);
    expect(performance.now() - t0).toBeLessThan(500);
  });
  it.each(cases)('%s (async, whole and in chunks)', async (_, path, message) => {
    await expect(readFileBoundedAsync(path, limits)).rejects.toThrow(message);
    await expect(collect(path, 4)).rejects.toThrow(message);
  });
  it('reads in chunks of the size asked', async () => {
    expect((await collect(p('ok.txt'), 2)).map(String)).toEqual(['he', 'll', 'o']);
  });
  it.skipIf(root)('an unreadable file', async () => {
    expect(() => readFileBounded(p('secret.txt'), limits)).toThrow(/secret\.txt: permission denied \(expected a test file\)/);
    await expect(readFileBoundedAsync(p('secret.txt'), limits)).rejects.toThrow(/secret\.txt: permission denied/);
  });
});

async function collect(path: string, chunkBytes: number): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const c of readFileChunks(path, limits, chunkBytes)) out.push(c);
  return out;
}
