/**
 * What one acceleration declares in the contract: its Variant options (zod, with defaults), a
 * one-line description, its summary, its editor fields and its CLI flags. Variant, the CLI, the
 * variant editor and the summaries are derived from the table of these (./registry.ts).
 * Pure: no node, electron or DOM imports.
 */
import { z } from 'zod';

/** One editor control; `key` names its option (inside the group, for a group's fields). */
export type EditorField =
  | {
      kind: 'select'; key: string; label: string; choices: readonly (string | number)[];
      /** Choices are provider ids: the editor marks those the host reports unavailable. */
      availability?: boolean;
      help?: string | ((value: unknown) => string);
    }
  | { kind: 'number'; key: string; label: string; min: number; max: number; step: number; format?: (value: number) => string; help?: string }
  | { kind: 'checkbox'; key: string; label: string; help?: string }
  /** One of the model's files (its loras/ folder); `empty` is the placeholder. */
  | { kind: 'file'; key: string; label: string; empty: string; help?: string }
  /** Several of the model's files, each switched on or off with a weight; `shared` adds the inputs' picks first. */
  | { kind: 'file-list'; key: string; label: string; empty: string; weight: { min: number; max: number; step: number }; shared?: boolean; help?: string };

/** An optional option object (`deepcache`, `lcmLora`): absent unless its toggle is on. */
export interface EditorGroup {
  key: string;
  label: string;
  /** The form's values before the user changes any. */
  defaults: Record<string, unknown>;
  fields: EditorField[];
  help?: string;
}

export type EditorSection = { fields: EditorField[]; group?: undefined } | { group: EditorGroup; fields?: undefined };

/** One CLI flag of `generate`/`bench`. */
export interface CliFlag {
  /** commander's syntax: '--deepcache-interval <n>', '--fused-attention'. */
  flags: string;
  help: string;
  choices?: readonly string[];
  /** Raw text → value; throws an Error naming the flag. */
  parse?: (raw: string) => unknown;
  /** Given more than once: the values are collected in a list. */
  repeatable?: boolean;
  /** The options this flag sets, given the variant so far (a --config file's, earlier flags'); default: the option named like the flag. */
  apply?: (value: never, v: Readonly<Record<string, unknown>>) => Record<string, unknown>;
}

export interface AccelerationDescriptor<S extends z.ZodRawShape = z.ZodRawShape> {
  /** The id of its engine file's acceleration (engine/accelerations/<file>.ts). */
  id: string;
  description: string;
  /** Its Variant fields, with their defaults. */
  options: S;
  /** What the studio, the CLI and the report print for it; '' when it changes nothing. */
  summary(o: z.output<z.ZodObject<S>>): string;
  /** What the A/B summary says when `summary` is '' ("DeepCache off"). */
  off?: string;
  editor: EditorSection;
  flags: CliFlag[];
}

/** Keeps a descriptor's option types for its summary. */
export const defineAcceleration = <S extends z.ZodRawShape>(d: AccelerationDescriptor<S>): AccelerationDescriptor<S> => d;

/** The last part of a path, either separator. */
export const fileName = (p: string): string => p.split(/[\\/]/).pop()!;

export function parseInteger(flag: string) {
  return (raw: string): number => {
    if (!/^-?\d+$/.test(raw)) throw new Error(`${flag} must be an integer, got "${raw}"`);
    return Number(raw);
  };
}

export function parseNumber(flag: string) {
  return (raw: string): number => {
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(n)) throw new Error(`${flag} must be a number, got "${raw}"`);
    return n;
  };
}
