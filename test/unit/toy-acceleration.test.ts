import { Command } from 'commander';
import { createElement } from 'react';
import { renderToString } from 'react-dom/server';
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { registerAcceleration } from '../../app/accelerations/registry';
import { CompareRequest, describeOptions, variantDifference } from '../../app/studio';
import { Variant } from '../../app/variant';
import { describeVariant, registerEngineAcceleration, sessionKey } from '../../engine/accelerations/registry';
import { addVariantFlags, variantFromFlags } from '../../engine/cli/variant-flags';
import { Engine } from '../../engine/engine';
import { VariantFields } from '../../renderer/panels/variant-editor';
import { defaultVariant, toVariant, variantProblem } from '../../renderer/store/variants';
import { FIXTURE_MODEL } from '../parity/reference';
import { toyDescriptor } from '../support/toy-acceleration/descriptor';
import { toy } from '../support/toy-acceleration/engine';

// A new acceleration is one descriptor, one engine file and their registration lines:
registerAcceleration(toyDescriptor);
registerEngineAcceleration(toy);

/** The toy's options: the static Variant type knows only the built-in ones. */
const toyOf = (v: object): unknown => (v as { toy?: unknown }).toy;
const generate = (): Command => addVariantFlags(new Command('generate').exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} }));
const fromArgs = (...args: string[]) => variantFromFlags(generate().parse(args, { from: 'user' }).opts());

describe('a toy acceleration registered from test/support/toy-acceleration', () => {
  it('has its flags in the CLI help, parsed and checked like the built-in ones', () => {
    const help = generate().helpInformation();
    expect(help).toContain('--toy-factor <x>');
    expect(help).toContain('toy boost: multiply the guidance by x');
    expect(help).toContain('--toy-threads <n>');
    expect(help).toContain('--deepcache-interval <n>');
    expect(Variant.parse(fromArgs('--toy-threads', '2', '--toy-factor', '0.5', '--deepcache-interval', '4')))
      .toMatchObject({ toy: { factor: 0.5, threads: 2 }, deepcache: { interval: 4, branch: 0, schedule: 'uniform' } });
    expect(() => fromArgs('--toy-threads', 'two')).toThrow('--toy-threads must be an integer, got "two"');
  });

  it('is part of the validated variant (defaults filled, bad values named), built-in options unchanged', () => {
    expect(toyOf(Variant.parse({ toy: { factor: 2 } }))).toEqual({ factor: 2, threads: 1 });
    expect(toyOf(Variant.parse({}))).toBeUndefined();
    const bad = Variant.safeParse({ toy: { factor: 9 } });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0]).toMatchObject({ path: ['toy', 'factor'], message: 'toy.factor must be <= 4' });
    expect(Object.keys(Variant.parse({}))).toEqual(['label', 'provider', 'allowFallback', 'precision', 'tf32', 'optLevel', 'fusedAttention', 'loras', 'cfgTruncation', 'stepInGraph']);
    expect(() => registerAcceleration({ ...toyDescriptor, id: 'late' })).toThrow('acceleration "late": register it before the first variant is validated');
    // and in every schema that holds a variant
    expect(toyOf(CompareRequest.parse({ jobId: 'job-123456', model: 'm', params: { prompt: 'x', seed: 1 }, a: {}, b: { toy: {} } }).b)).toEqual({ factor: 1.5, threads: 1 });
  });

  it('has its summary in the studio, the A/B difference and the engine', () => {
    const a = Variant.parse({}), b = Variant.parse({ toy: { factor: 2, threads: 4 } });
    expect(describeOptions(a).toy).toBe('no toy boost');
    expect(variantDifference(a, b)).toBe('B: toy boost ×2 (4 threads) (A: no toy boost)');
    expect(describeVariant(b)).toBe('provider cpu, graph optimisation all, toy boost ×2 (4 threads)');
  });

  it('has its fields in the editor, and the form converts to the variant', () => {
    const form = defaultVariant('A');
    expect(toyOf(form)).toEqual({ enabled: false, factor: 1.5, threads: 1 });
    const html = renderToString(createElement(VariantFields, { form, onChange: () => {}, ctx: { side: 'A', providers: [], files: [] } }));
    expect(html).toContain('Toy boost');
    expect(html).toContain('data-testid="toy-factor-A"');
    expect(html).toContain('aria-label="Toy boost Threads"');
    expect(html).toContain('data-testid="deepcache-interval-A"');
    const on = { ...form, toy: { enabled: true, factor: 3, threads: 2 } };
    expect(toVariant(form)).not.toHaveProperty('toy');
    expect(toVariant(on)).toMatchObject({ toy: { factor: 3, threads: 2 } });
    expect(variantProblem({ ...on, cfgTruncation: 2 })).toBe('cfgTruncation: cfgTruncation must be <= 1');
  });

  describe('in the engine', () => {
    const engine = new Engine(join(mkdtempSync(join(tmpdir(), 'toy-')), 'cache'));
    afterAll(() => engine.release());

    it('keys sessions by the options it declares', () => {
      const key = (toyOpts: object) => sessionKey(FIXTURE_MODEL, Variant.parse({ toy: toyOpts }));
      expect(key({ threads: 2, factor: 1 })).toBe(key({ threads: 2, factor: 3 }));
      expect(key({ threads: 2 })).not.toBe(key({ threads: 1 }));
      expect(sessionKey(FIXTURE_MODEL, Variant.parse({ deepcache: { interval: 2, branch: 1 } }))).toBe(sessionKey(FIXTURE_MODEL, Variant.parse({ deepcache: { interval: 5, branch: 1 } })));
      // CFG truncation changes the UNet's batch mid-run: its sessions are its own (on CUDA the change
      // slowed the plain variant sharing them), whatever the fraction
      const cfg = (f: number) => sessionKey(FIXTURE_MODEL, Variant.parse({ cfgTruncation: f }));
      expect(cfg(0.5)).not.toBe(cfg(1));
      expect(cfg(0.5)).toBe(cfg(0.3));
    });

    it('runs: its param change and its summary are in the result; its conflicts are validation errors', async () => {
      const params = { prompt: 'a cat', seed: 1, steps: 2, guidance: 3, width: 64, height: 64 };
      const { result } = await engine.run({ model: FIXTURE_MODEL, params, variant: { toy: { factor: 2 } } });
      expect(result.params.guidance).toBe(6);
      expect(result.summary).toContain('toy boost ×2 (1 thread)');
      await expect(engine.run({ model: FIXTURE_MODEL, params, variant: { toy: {}, cfgTruncation: 0.5 } })).rejects.toThrow('toy boost and CFG truncation do not mix');
    });
  });
});
