import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';
import { summarize } from '../../app/accelerations/registry';
import { RunRequest } from '../../app/run-request';
import { Variant } from '../../app/variant';
import { validateVariant } from '../../engine/accelerations/registry';
import { addVariantFlags, variantFromFlags } from '../../engine/cli/variant-flags';
import { Engine } from '../../engine/engine';
import { EnginePool, engineEnv } from '../../main/host/engine-pool';
import { forkEngine } from '../../main/host/spawn-fork';
import { FIXTURE_MODEL } from '../parity/reference';

const flags = (argv: string[]) => variantFromFlags(addVariantFlags(new Command().exitOverride().configureOutput({ writeErr: () => {} })).parse(argv, { from: 'user' }).opts());
const dir = mkdtempSync(join(tmpdir(), 'tf32-'));

describe('TF32 as a variant option', () => {
  it('round-trips: default on, --tf32 off in the CLI, a summary only when off', () => {
    expect(Variant.parse({}).tf32).toBe(true);
    expect(Variant.parse(JSON.parse(JSON.stringify(Variant.parse({ tf32: false })))).tf32).toBe(false);
    expect(flags(['--tf32', 'off', '--provider', 'cuda'])).toEqual({ tf32: false, provider: 'cuda' });
    expect(flags(['--tf32', 'on'])).toEqual({ tf32: true });
    expect(() => flags(['--tf32', 'maybe'])).toThrow('--tf32 must be on or off, got "maybe"');
    expect(summarize('tf32', Variant.parse({ tf32: false }))).toBe('TF32 off (NVIDIA_TF32_OVERRIDE=0)');
    expect(summarize('tf32', Variant.parse({}))).toBe('');
  });

  it('refused on cpu and webgpu with the reason; cuda passes', () => {
    expect(() => validateVariant(Variant.parse({ tf32: false }))).toThrow(/tf32 off: only the cuda and tensorrt providers use TF32 .*cpu computes in full fp32 already/);
    expect(() => validateVariant(Variant.parse({ tf32: false, provider: 'webgpu' }))).toThrow(/webgpu computes in full fp32/);
    expect(() => validateVariant(Variant.parse({ tf32: false, provider: 'cuda' }))).not.toThrow();
  });

  it('with CPU fallback allowed it runs and says it was ignored', async () => {
    const engine = new Engine(join(dir, 'cache'));
    try {
      const { result } = await engine.run({ model: FIXTURE_MODEL, params: { prompt: 'a cat', seed: 1, steps: 1, width: 32, height: 32 }, variant: { provider: 'cpu', allowFallback: true, tf32: false }, inputs: {} });
      expect(result.summary).toContain('TF32 off: ignored (ran on cpu, which has no TF32)');
    } finally {
      await engine.release();
    }
  });
});

describe('TF32 off runs in an engine process of its own, started with NVIDIA_TF32_OVERRIDE=0', () => {
  const pool = new EnginePool(forkEngine({ STUDIO_ENGINE_CACHE: join(dir, 'cache') }), () => {});
  afterAll(() => pool.stop());
  const environ = (pid: number) => readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
  const request = (variant: object) => RunRequest.parse({ model: FIXTURE_MODEL, params: { prompt: 'a cat', seed: 1, steps: 1, width: 32, height: 32 }, variant, inputs: {} });

  it.skipIf(process.platform !== 'linux')('the env reaches that process only; the run goes there', async () => {
    expect(engineEnv(request({}))).toEqual({});
    const off = request({ tf32: false, provider: 'cpu' });
    // on cpu the engine refuses it: the refusal comes back from the TF32-off process, the default one never starts
    await expect(pool.run(off)).rejects.toThrow(/tf32 off: only the cuda and tensorrt providers/);
    const s = pool.for(off);
    expect(s).not.toBe(pool.main);
    expect(environ(s.pid!)).toContain('NVIDIA_TF32_OVERRIDE=0');
    expect(pool.main.pid).toBeUndefined();
    await pool.main.start();
    expect(environ(pool.main.pid!).some((e) => e.startsWith('NVIDIA_TF32_OVERRIDE='))).toBe(process.env.NVIDIA_TF32_OVERRIDE !== undefined);
  });
});
