import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { PROVIDERS, type VariantInput } from '../../app/variant';

/** The acceleration flags of `generate` and `bench`; scripts use these names. */
export function addVariantFlags(cmd: Command): Command {
  return cmd
    .addOption(new Option('--provider <name>', 'execution provider').choices(PROVIDERS))
    .option('--allow-fallback', 'run on the CPU when the provider is unavailable (the result says so)')
    .addOption(new Option('--precision <p>', 'weights and activations').choices(['fp32', 'fp16', 'bf16']))
    .addOption(new Option('--opt-level <level>', 'onnxruntime graph optimisation ("compile")').choices(['disabled', 'basic', 'extended', 'all']))
    .option('--fused-attention', "rewrite attention into onnxruntime's fused attention operator")
    .option('--deepcache-interval <n>', 'DeepCache: a full UNet step every n steps', intArg('--deepcache-interval'))
    .option('--deepcache-branch <b>', 'DeepCache: cache branch (0 = outermost, cheapest cached step)', intArg('--deepcache-branch'))
    .option('--deepcache-schedule <s>', 'DeepCache: uniform, nonuniform, or a comma list of full-step indices')
    .option('--lora <file[:weight]>', 'merge a LoRA (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--lcm-lora <file>', 'LCM-LoRA: merge it and sample with LCM (4 steps, guidance 1)')
    .option('--cfg-truncation <fraction>', 'drop the unconditional branch after this fraction of steps', numArg('--cfg-truncation'))
    .option('--config <variant.json>', 'a whole variant as JSON (flags given as well override it)');
}

export interface VariantFlags {
  provider?: string; allowFallback?: boolean; precision?: string; optLevel?: string; fusedAttention?: boolean;
  deepcacheInterval?: number; deepcacheBranch?: number; deepcacheSchedule?: string; lora: string[]; lcmLora?: string;
  cfgTruncation?: number; config?: string;
}

/** Flags → a Variant input (validated later by the engine against app/variant.ts). */
export function variantFromFlags(f: VariantFlags): VariantInput {
  let v: Record<string, unknown> = {};
  if (f.config) {
    try {
      v = JSON.parse(readFileSync(f.config, 'utf8'));
    } catch (e) {
      throw new Error(`${f.config}: cannot read the variant JSON (${(e as Error).message})`);
    }
  }
  const set = (k: string, x: unknown): void => {
    if (x !== undefined) v[k] = x;
  };
  set('provider', f.provider);
  set('allowFallback', f.allowFallback);
  set('precision', f.precision);
  set('optLevel', f.optLevel);
  set('fusedAttention', f.fusedAttention);
  set('cfgTruncation', f.cfgTruncation);
  if (f.lcmLora) v.lcmLora = { path: f.lcmLora };
  if (f.lora.length) v.loras = f.lora.map(parseLoraFlag);
  if (f.deepcacheInterval !== undefined || f.deepcacheBranch !== undefined || f.deepcacheSchedule !== undefined) {
    const prev = (v.deepcache ?? {}) as Record<string, unknown>;
    const schedule = f.deepcacheSchedule === undefined ? prev.schedule
      : /^[\d,\s]+$/.test(f.deepcacheSchedule) ? f.deepcacheSchedule.split(',').map((s) => Number(s.trim())) : f.deepcacheSchedule;
    v.deepcache = { interval: f.deepcacheInterval ?? prev.interval ?? 3, branch: f.deepcacheBranch ?? prev.branch ?? 0, ...(schedule !== undefined ? { schedule } : {}) };
  }
  return v as VariantInput;
}

function parseLoraFlag(s: string): { path: string; weight: number } {
  const m = s.match(/^(.*):(-?[\d.]+)$/);
  if (!m) return { path: s, weight: 1 };
  const w = Number(m[2]);
  if (!Number.isFinite(w)) throw new Error(`--lora ${s}: the weight after ":" must be a number`);
  return { path: m[1]!, weight: w };
}

export function intArg(name: string) {
  return (v: string): number => {
    if (!/^-?\d+$/.test(v)) throw new InvalidArgumentError(`${name} must be an integer, got "${v}"`);
    return Number(v);
  };
}
export function numArg(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`${name} must be a number, got "${v}"`);
    return n;
  };
}
