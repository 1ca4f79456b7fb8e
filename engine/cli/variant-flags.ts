import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { accelerations } from '../../app/accelerations/registry';
import { parseInteger, parseNumber, type CliFlag } from '../../app/accelerations/descriptor';
import type { VariantInput } from '../../app/variant';

/** A descriptor's parser as commander's: its message becomes commander's "argument ... is invalid" error. */
function argParser(parse: (raw: string) => unknown) {
  return (raw: string): unknown => {
    try {
      return parse(raw);
    } catch (e) {
      throw new InvalidArgumentError((e as Error).message);
    }
  };
}

function toOption(f: CliFlag): Option {
  const o = new Option(f.flags, f.help);
  if (f.choices) o.choices(f.choices);
  const parse = f.parse ? argParser(f.parse) : (raw: string) => raw;
  if (f.repeatable) o.argParser((raw: string, acc: unknown[] | undefined) => [...(acc ?? []), parse(raw)]);
  else if (f.parse) o.argParser(parse);
  return o;
}

/** Each acceleration's flags with the commander option they are read from. */
const variantOptions = (): { flag: CliFlag; option: Option }[] =>
  accelerations().flatMap((d) => d.flags.map((flag) => ({ flag, option: toOption(flag) })));

/** The acceleration flags of `generate` and `bench` (from the descriptors); scripts use these names. */
export function addVariantFlags(cmd: Command): Command {
  for (const { option } of variantOptions()) cmd.addOption(option);
  return cmd.option('--config <variant.json>', 'a whole variant as JSON (flags given as well override it)');
}

/** What commander parsed; each acceleration flag's value is under its attribute name (--deepcache-interval → deepcacheInterval). */
export interface VariantFlags {
  config?: string;
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
  const parsed = f as Readonly<Record<string, unknown>>;
  for (const { flag, option } of variantOptions()) {
    const value = parsed[option.attributeName()];
    if (value === undefined) continue;
    Object.assign(v, flag.apply ? flag.apply(value as never, v) : { [option.attributeName()]: value });
  }
  return v as VariantInput;
}

export const intArg = (name: string) => argParser(parseInteger(name)) as (raw: string) => number;
export const numArg = (name: string) => argParser(parseNumber(name)) as (raw: string) => number;
/** Two integers ≥ min as "a,b" (SDXL's [h, w] sizes and [y, x] crops); ranges are the engine's to check. */
export const pairArg = (name: string, min = 1) => argParser((raw: string) => {
  const m = /^\s*(\d+)\s*,\s*(\d+)\s*$/.exec(raw);
  if (!m || Number(m[1]) < min || Number(m[2]) < min) throw new Error(`${name} must be two integers >= ${min} as "a,b" (e.g. 1024,1024), got "${raw}"`);
  return [Number(m[1]), Number(m[2])];
}) as (raw: string) => [number, number];
