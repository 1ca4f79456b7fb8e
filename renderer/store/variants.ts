import type { StateCreator } from 'zustand';
import { Variant, type Provider, type VariantInput } from '../../app/variant';
import type { Side } from '../../app/studio';
import { describeIssues } from '../../app/errors';
import type { StudioState } from './state';

export interface LoraPick {
  path: string;
  weight: number;
  enabled: boolean;
}

/** The editor's view of a variant: every option present, switched on or off. */
export interface VariantForm {
  label: string;
  provider: Provider;
  allowFallback: boolean;
  precision: 'fp32' | 'fp16' | 'bf16';
  optLevel: 'disabled' | 'basic' | 'extended' | 'all';
  fusedAttention: boolean;
  deepcache: { enabled: boolean; interval: number; branch: number; schedule: 'uniform' | 'nonuniform' };
  loras: LoraPick[];
  lcmLora: { enabled: boolean; path: string };
  cfgTruncation: number;
}

export const defaultVariant = (label: string): VariantForm => ({
  label, provider: 'cpu', allowFallback: false, precision: 'fp32', optLevel: 'all', fusedAttention: false,
  deepcache: { enabled: false, interval: 3, branch: 0, schedule: 'uniform' }, loras: [], lcmLora: { enabled: false, path: '' }, cfgTruncation: 1,
});

/** Form -> contract: shared LoRAs (the inputs') first, then the variant's own. */
export function toVariant(f: VariantForm, shared: LoraPick[] = []): VariantInput {
  const loras = [...shared, ...f.loras].filter((l) => l.enabled && l.path).map((l) => ({ path: l.path, weight: l.weight }));
  return {
    label: f.label, provider: f.provider, allowFallback: f.allowFallback, precision: f.precision, optLevel: f.optLevel,
    fusedAttention: f.fusedAttention, loras, cfgTruncation: f.cfgTruncation,
    ...(f.deepcache.enabled ? { deepcache: { interval: f.deepcache.interval, branch: f.deepcache.branch, schedule: f.deepcache.schedule } } : {}),
    ...(f.lcmLora.enabled && f.lcmLora.path ? { lcmLora: { path: f.lcmLora.path } } : {}),
  };
}

/** The contract's verdict on a form, as the editor shows it (undefined = valid). */
export function variantProblem(f: VariantForm, shared: LoraPick[] = []): string | undefined {
  if (f.lcmLora.enabled && !f.lcmLora.path) return 'LCM-LoRA: pick a file';
  const r = Variant.safeParse(toVariant(f, shared));
  return r.success ? undefined : describeIssues(r.error);
}

export interface VariantsSlice {
  a: VariantForm;
  b: VariantForm;
  setVariant(side: Side, patch: Partial<VariantForm>): void;
  copyAtoB(): void;
}

export const variantsSlice: StateCreator<StudioState, [], [], VariantsSlice> = (set) => ({
  a: defaultVariant('baseline'),
  b: { ...defaultVariant('DeepCache'), deepcache: { enabled: true, interval: 3, branch: 0, schedule: 'uniform' } },
  setVariant: (side, patch) => set((s) => (side === 'A' ? { a: { ...s.a, ...patch } } : { b: { ...s.b, ...patch } })),
  copyAtoB: () => set((s) => ({ b: { ...structuredClone(s.a), label: s.b.label } })),
});
