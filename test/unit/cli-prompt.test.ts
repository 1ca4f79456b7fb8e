import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ARGV_LIMIT, argvTooLong, promptOption, readPromptFile } from '../../engine/cli/prompt-input';

const dir = mkdtempSync(join(tmpdir(), 'cli-prompt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const base = ['/usr/bin/node', '--import', 'tsx', 'engine/cli/main.ts', 'generate'];

describe('long prompts stay out of onnxruntime\'s argv', () => {
  it('a command line within the limit passes, counted in UTF-8 bytes', () => {
    expect(argvTooLong([...base, '--prompt', 'a'.repeat(ARGV_LIMIT - 200)])).toBeUndefined();
    // 3 bytes per character: 6000 characters are 18 KB
    expect(argvTooLong([...base, '--prompt', '猫'.repeat(6000)])).toMatch(/^the command line is 180\d\d bytes, over the 16 KiB onnxruntime takes safely: the prompt is 6000 characters; pass long prompts with --prompt-file <file> or --prompt-file - \(stdin\)$/);
  });
  it('names the flag the long argument belongs to, in either spelling', () => {
    expect(argvTooLong([...base, '--prompt', 'x', '--negative-prompt', 'n'.repeat(20_000)])).toMatch(/the negative prompt is 20000 characters; pass long prompts with --negative-prompt-file <file> or --negative-prompt-file -/);
    expect(argvTooLong([...base, `--prompt=${'p'.repeat(20_000)}`])).toMatch(/the prompt is 20000 characters; pass long prompts with --prompt-file/);
    expect(argvTooLong([...base, '--model', 'm'.repeat(20_000)])).toMatch(/an argument is 20000 characters/);
  });
  it('prompt files: one trailing newline dropped, bounded, not both ways at once', async () => {
    writeFileSync(join(dir, 'p.txt'), 'a red fox\n\n');
    expect(await readPromptFile(join(dir, 'p.txt'), '--prompt-file')).toBe('a red fox\n');
    writeFileSync(join(dir, 'empty.txt'), '');
    expect(await promptOption(undefined, join(dir, 'empty.txt'), '--negative-prompt')).toBe('');
    writeFileSync(join(dir, 'big.txt'), Buffer.alloc(65 * 1024, 97));
    await expect(readPromptFile(join(dir, 'big.txt'), '--prompt-file')).rejects.toThrow(/big\.txt: 65 KiB is over the 64 KiB limit \(expected a UTF-8 prompt for --prompt-file\)/);
    await expect(promptOption('x', join(dir, 'p.txt'), '--prompt')).rejects.toThrow('give --prompt or --prompt-file, not both');
    expect(await promptOption('inline', undefined, '--prompt')).toBe('inline');
  });
});
