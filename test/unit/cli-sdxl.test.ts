import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { readPng } from '../../engine/image/png';
import { FIXTURE_MODEL } from '../parity/reference';

const run = promisify(execFile);
const cli = (...args: string[]) => run(process.execPath, ['--import', 'tsx', 'engine/cli/main.ts', ...args], { cwd: join(__dirname, '../..') });
const SDXL = fileURLToPath(new URL('../fixtures/tiny-sdxl', import.meta.url));

describe('engine CLI on an SDXL folder', () => {
  it('generate runs it at the folder\'s size; --original-size/--crop-top-left/--target-size reach the time ids', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-sdxl-'));
    const gen = async (name: string, ...extra: string[]) => {
      const { stdout } = await cli('generate', '--model', SDXL, '--prompt', 'a cat', '--steps', '3', '--out', join(dir, name), '--json', ...extra);
      return { result: JSON.parse(stdout.trim()), png: readPng(join(dir, name)) };
    };
    const plain = await gen('plain.png');
    expect(plain.result.params).toMatchObject({ width: 64, height: 64, scheduler: 'euler' });
    expect(plain.result.params.negativePrompt).toBeUndefined(); // absent, so zeroed (force_zeros_for_empty_prompt)
    const sized = await gen('sized.png', '--original-size', '256,128', '--crop-top-left', '8,4', '--target-size', '64,64');
    expect(sized.result.params.sizeConditioning).toEqual({ originalSize: [256, 128], cropTopLeft: [8, 4], targetSize: [64, 64] });
    expect(Buffer.compare(Buffer.from(sized.png.data), Buffer.from(plain.png.data))).not.toBe(0);
  });
  it('bad size flags, and size conditioning on an SD 1.x folder, are refused with the reason', async () => {
    await expect(cli('generate', '--model', SDXL, '--prompt', 'x', '--original-size', '96')).rejects.toMatchObject({ stderr: expect.stringContaining('--original-size must be two integers >= 1 as "a,b" (e.g. 1024,1024), got "96"') });
    await expect(cli('generate', '--model', FIXTURE_MODEL, '--prompt', 'x', '--target-size', '64,64', '--steps', '1')).rejects.toMatchObject({ stderr: expect.stringContaining("is SDXL's micro-conditioning; tiny-sd (OnnxStableDiffusionPipeline) has no time_ids input") });
  });
});
