import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readPng } from '../../engine/image/png';
import { FIXTURE_MODEL } from '../parity/reference';
import { cliInProcess as cli, cliSpawn } from '../support/cli';

// in-process, but the first case and one refusal spawn the real entry point (its output and exit code)

describe('engine CLI', () => {
  it('generate writes a PNG with A1111 infotext and prints the result as one JSON line', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'cli-')), 'cat.png');
    const { stdout } = await cliSpawn('generate', '--model', FIXTURE_MODEL, '--prompt', 'a cat, naïve café', '--negative-prompt', 'blurry',
      '--seed', '42', '--steps', '4', '--scheduler', 'euler', '--width', '96', '--height', '64', '--guidance', '6', '--out', out, '--json');
    const result = JSON.parse(stdout.trim());
    expect(result.outputs).toEqual([out]);
    expect(result.provider).toBe('cpu');
    expect(result.timings.stepMs).toHaveLength(4);
    const png = readPng(out);
    expect([png.width, png.height]).toEqual([96, 64]);
    expect(png.text.parameters).toMatch(/^a cat, naïve café\nNegative prompt: blurry\nSteps: 4, Sampler: Euler, CFG scale: 6, Seed: 42, Size: 96x64, Model hash: [0-9a-f]{12}, Model: tiny-sd, Provider: cpu, Accelerations: "provider cpu, graph optimisation all"$/);
  });

  it('img2img from a PNG, batch of 2', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-'));
    await cli('generate', '--model', FIXTURE_MODEL, '--prompt', 'x', '--steps', '2', '--width', '96', '--height', '64', '--out', join(dir, 'init.png'));
    const { stdout } = await cli('generate', '--model', FIXTURE_MODEL, '--prompt', 'y', '--steps', '4', '--init-image', join(dir, 'init.png'),
      '--strength', '0.5', '--batch', '2', '--out', join(dir, 'b.png'), '--json');
    const r = JSON.parse(stdout.trim());
    expect(r.outputs).toEqual([join(dir, 'b-1.png'), join(dir, 'b-2.png')]);
    expect(readPng(r.outputs[1]).text.parameters).toContain('Denoising strength: 0.5');
  });

  it('--help lists every option', async () => {
    const { stdout } = await cli('generate', '--help');
    for (const flag of ['--model', '--prompt', '--negative-prompt', '--seed', '--steps', '--guidance', '--width', '--height',
      '--scheduler', '--init-image', '--strength', '--batch', '--out', '--json']) expect(stdout).toContain(flag);
  });

  it('bad flags fail with a message and a non-zero exit', async () => {
    await expect(cliSpawn('generate', '--model', FIXTURE_MODEL, '--prompt', 'x', '--steps', 'ten')).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining('--steps must be an integer, got "ten"') });
    await expect(cli('generate', '--model', FIXTURE_MODEL, '--prompt', 'x', '--scheduler', 'heun')).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining("argument 'heun' is invalid") });
    await expect(cli('generate', '--model', FIXTURE_MODEL, '--prompt', 'x', '--width', '100', '--steps', '1')).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining('width 100 is not a multiple of 8') });
    await expect(cli('generate', '--model', FIXTURE_MODEL, '--prompt', 'x', '--init-image', '/nonexistent.png')).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining('/nonexistent.png: cannot read the image') });
  });
});

describe('engine CLI acceleration flags', () => {
  it('DeepCache flags run a variant and report its full steps', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'cli-')), 'dc.png');
    const { stdout } = await cli('generate', '--model', FIXTURE_MODEL, '--prompt', 'x', '--steps', '6', '--scheduler', 'ddim', '--width', '96', '--height', '64',
      '--deepcache-interval', '3', '--deepcache-branch', '0', '--cfg-truncation', '0.5', '--opt-level', 'basic', '--out', out, '--json');
    const r = JSON.parse(stdout.trim());
    expect(r.fullSteps).toEqual([0, 3]);
    expect(r.summary.split(', ').sort()).toEqual(['CFG truncated after 50% of steps', 'DeepCache N=3 branch 0 uniform', 'graph optimisation basic', 'provider cpu']);
  });
  it('--deepcache-start/--deepcache-end keep the first and last steps full; a bad fraction is refused by name', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'cli-')), 'dcw.png');
    const { stdout } = await cli('generate', '--model', FIXTURE_MODEL, '--prompt', 'x', '--steps', '8', '--scheduler', 'ddim', '--width', '64', '--height', '64',
      '--deepcache-interval', '4', '--deepcache-start', '0.25', '--deepcache-end', '0.25', '--out', out, '--json');
    expect(JSON.parse(stdout.trim()).fullSteps).toEqual([0, 1, 4, 6, 7]);
    await expect(cli('generate', '--model', FIXTURE_MODEL, '--prompt', 'x', '--deepcache-start', 'half')).rejects.toMatchObject({ stderr: expect.stringContaining('--deepcache-start must be a number, got "half"') });
    await expect(cli('generate', '--model', FIXTURE_MODEL, '--prompt', 'x', '--deepcache-start', '0.7', '--deepcache-end', '0.5')).rejects.toMatchObject({ stderr: expect.stringContaining('deepcache.start + deepcache.end must be < 1') });
  });
  it('--config reads a whole variant; an unavailable provider is a clear error unless fallback is allowed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-'));
    const cfg = join(dir, 'v.json');
    writeFileSync(cfg, JSON.stringify({ provider: 'coreml' }));
    await expect(cli('generate', '--model', FIXTURE_MODEL, '--prompt', 'x', '--steps', '1', '--config', cfg, '--out', join(dir, 'a.png'))).rejects.toMatchObject({
      stderr: expect.stringContaining(`execution provider coreml is not available: not built for ${process.platform}`),
    });
    const { stdout } = await cli('generate', '--model', FIXTURE_MODEL, '--prompt', 'x', '--steps', '1', '--config', cfg, '--allow-fallback', '--out', join(dir, 'b.png'), '--json');
    expect(JSON.parse(stdout.trim())).toMatchObject({ provider: 'cpu', fellBack: true });
  });
  it('--lora file:weight merges the LoRA (the variant\'s loras); a weight that is not a number is refused as such', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-'));
    const file = join(__dirname, '../fixtures/loras/tiny-lora-kohya.safetensors');
    const { stdout } = await cli('generate', '--model', FIXTURE_MODEL, '--prompt', 'x', '--steps', '1', '--lora', `${file}:0.5`, '--out', join(dir, 'l.png'), '--json');
    expect(JSON.parse(stdout.trim()).summary).toContain('LoRA tiny-lora-kohya.safetensors@0.5');
    await expect(cli('generate', '--model', FIXTURE_MODEL, '--prompt', 'x', '--lora', `${file}:NaN`)).rejects.toMatchObject({ stderr: expect.stringContaining('the weight after ":" must be a number, got "NaN"') });
  });
});
