/**
 * The table of accelerations, one registration line each. Variant (app/variant.ts), the CLI
 * flags, the variant editor and the summaries are derived from it; the order is the Variant's
 * key order (its JSON shape) and the editor's. Pure: no node, electron or DOM imports.
 */
import { z } from 'zod';
import { cfg } from './cfg';
import { compile } from './compile';
import { deepcache } from './deepcache';
import type { AccelerationDescriptor } from './descriptor';
import { fusedAttention } from './fused-attention';
import { lcmLora } from './lcm-lora';
import { lora } from './lora';
import { precision } from './precision';
import { provider } from './provider';
import { sdFusions } from './sd-fusions';
import { stepInGraph } from './step-in-graph';
import { tf32 } from './tf32';

const BUILT_IN = [
  provider,
  precision,
  tf32,
  compile,
  fusedAttention,
  sdFusions,
  deepcache,
  lora,
  lcmLora,
  cfg,
  stepInGraph,
] as const;

type UnionToIntersection<U> = (U extends unknown ? (x: U) => void : never) extends (x: infer I) => void ? I : never;
/** Every built-in option's schema, as one zod shape (what Variant's static type is made of). */
export type OptionsShape = UnionToIntersection<(typeof BUILT_IN)[number]['options']>;

const table: AccelerationDescriptor[] = [...BUILT_IN];
let shape: OptionsShape | undefined;
let frozen = false;

/** Every acceleration's descriptor, in table order. */
export const accelerations = (): readonly AccelerationDescriptor[] => table;

export function descriptor(id: string): AccelerationDescriptor {
  const d = table.find((x) => x.id === id);
  if (!d) throw new Error(`no acceleration descriptor "${id}" in app/accelerations/registry.ts (known: ${table.map((x) => x.id).join(', ')})`);
  return d;
}

/**
 * Adds an acceleration after the built-in ones (a plugin, the toy test). Schemas derive from the
 * table when a variant is first validated, so registration happens before that.
 */
export function registerAcceleration(d: AccelerationDescriptor): void {
  if (frozen) throw new Error(`acceleration "${d.id}": register it before the first variant is validated (the Variant schema is already built)`);
  if (table.some((x) => x.id === d.id)) throw new Error(`acceleration "${d.id}" is registered already`);
  const taken = new Set(['label', ...table.flatMap((x) => Object.keys(x.options))]);
  const clash = Object.keys(d.options).filter((k) => taken.has(k));
  if (clash.length) throw new Error(`acceleration "${d.id}": option ${clash.join(', ')} is another acceleration's (or the label)`);
  table.push(d);
  shape = undefined;
}

/** All options' schemas in one shape; after this, the table is fixed. */
export function optionsShape(): OptionsShape {
  frozen = true;
  return (shape ??= Object.assign({}, ...table.map((d) => d.options)) as OptionsShape);
}

/** One acceleration's summary of a variant ('' when it changes nothing). */
export const summarize = (id: string, v: object): string => descriptor(id).summary(v as never);

/** Each option's defaults (optional groups absent), from its own schema. */
export const optionDefaults = (d: AccelerationDescriptor): Record<string, unknown> => z.object(d.options).parse({});
