/**
 * A variant: the acceleration options one side of an A/B comparison runs with. Its fields come
 * from the acceleration descriptors (app/accelerations/), each implemented by one
 * engine/accelerations/<id>.ts; conflicts between options are validation errors.
 */
import { z } from 'zod';
import { GenerateParams } from './contract';
import { optionsShape, type OptionsShape } from './accelerations/registry';

export { PROVIDERS, Provider } from './accelerations/provider';
export { DeepCacheOptions } from './accelerations/deepcache';
export { LoraRef } from './accelerations/lora';

const label = z.string().max(40).default('A');
type VariantSchema = z.ZodObject<{ label: typeof label } & OptionsShape, z.core.$strict>;

/** Built from the descriptor table when first used (so a registered acceleration is part of it). */
export const Variant = z.lazy((): VariantSchema => z.object({ label, ...optionsShape() }).strict());
export type Variant = z.infer<typeof Variant>;
export type VariantInput = z.input<typeof Variant>;

/** Moved to run-request.ts (type-only here: a value re-export would be an import cycle). */
export type { RunRequest, RunRequestInput } from './run-request';
