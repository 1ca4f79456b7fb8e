import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { controlFromFlags, parseControlNetArg } from '../../engine/cli/control-flags';
import { readPng, writePng } from '../../engine/image/png';
import { f32, readFixture } from '../parity/reference';

const run = promisify(execFile);
const root = join(__dirname, '../..');
const cli = (...args: string[]) => run(process.execPath, ['--import', 'tsx', 'engine/cli/main.ts', ...args], { cwd: root });
const PLAIN = join(root, 'test/fixtures/tiny-sd-controlnet-plain');
const CN = join(root, 'test/fixtures/tiny-sd-controlnet/controlnet');

describe('engine CLI: ControlNet flags', () => {
  it('--controlnet dir:scale, a control image of another size (resized, noted), canny thresholds; infotext names the unit', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-cn-'));
    const ref = readFixture<{ controlImages: Record<string, string> }>('tiny-sd-controlnet-reference.json.gz');
    const edges = Uint8Array.from(f32(ref.controlImages.disc!), (v) => Math.round(v * 255));
    // half size: 48x32 from the 96x64 map (every other pixel)
    const half = new Uint8Array(48 * 32 * 3);
    for (let y = 0; y < 32; y++) for (let x = 0; x < 48; x++) for (let c = 0; c < 3; c++) half[(y * 48 + x) * 3 + c] = edges[(2 * y * 96 + 2 * x) * 3 + c]!;
    writePng(join(dir, 'disc.png'), { width: 48, height: 32, data: half });
    const out = join(dir, 'o.png');
    const { stdout } = await cli('generate', '--model', PLAIN, '--prompt', 'a cat', '--steps', '3', '--scheduler', 'ddim', '--width', '96', '--height', '64',
      '--controlnet', `${CN}:0.8`, '--control-image', join(dir, 'disc.png'), '--control-preprocess', 'canny', '--canny-low', '20', '--canny-high', '60',
      '--control-start', '0', '--control-end', '0.7', '--out', out, '--json');
    const r = JSON.parse(stdout.trim());
    expect(r.notices[0]).toBe(`ControlNet 1 (${CN}): control image resized from 48x32 to 96x64 (bilinear)`);
    expect(r.params.controlnet.units[0]).toMatchObject({ dir: CN, scale: 0.8, start: 0, end: 0.7, preprocess: 'canny', low: 20, high: 60 });
    expect(readPng(out).text.parameters).toContain(`ControlNet 0: "Module: canny (20, 60), Model: ${CN}, Weight: 0.8, Guidance Start: 0, Guidance End: 0.7"`);
  });
  it('bad flags: start >= end, per-unit lists of the wrong length, a scale that is not one', async () => {
    await expect(cli('generate', '--model', PLAIN, '--prompt', 'x', '--steps', '2', '--control-image', '/nonexistent.png', '--control-start', '0.9', '--control-end', '0.1'))
      .rejects.toMatchObject({ stderr: expect.stringContaining('control start must be < control end') });
    expect(() => controlFromFlags({ controlnet: [{ dir: 'a' }, { dir: 'b' }], controlStart: [0, 0.1, 0.2] })).toThrow('--control-start: 3 values for 2 ControlNets');
    expect(() => controlFromFlags({ controlnet: [{ dir: 'a' }], controlImage: ['x.png', 'y.png'] })).toThrow('--control-image given 2 times for 1 ControlNets');
    expect(parseControlNetArg('C:\\nets\\canny')).toEqual([{ dir: 'C:\\nets\\canny' }]);
    expect(parseControlNetArg('/nets/canny:0.5', [{ dir: 'x' }])).toEqual([{ dir: 'x' }, { dir: '/nets/canny', scale: 0.5 }]);
    expect(() => parseControlNetArg(':1')).toThrow('give a ControlNet folder');
  });
});
