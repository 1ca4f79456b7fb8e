import type { StateCreator } from 'zustand';
import { accelerations, optionDefaults } from '../../app/accelerations/registry';
import type { EditorField } from '../../app/accelerations/descriptor';
import { Variant, type VariantInput } from '../../app/variant';
import type { Side } from '../../app/studio';
import { describeIssues } from '../../app/errors';
import type { StudioState } from './state';

export interface LoraPick {
  path: string;
  weight: number;
  enabled: boolean;
}

/** An option's form value: an optional group is always present, switched on or off; a file list holds picks. */
type FormValue<K extends keyof Variant> = {} extends Pick<Variant, K>
  ? NonNullable<VariantInput[K]> & { enabled: boolean }
  : Variant[K] extends readonly { path: string; weight: number }[] ? LoraPick[] : Variant[K];

/** The editor's view of a variant: every option present (derived from the acceleration descriptors). */
export type VariantForm = { [K in keyof Variant]-?: FormValue<K> };
type Loose = Record<string, unknown>;

const picked = (picks: LoraPick[]) => picks.filter((l) => l.enabled && l.path).map((l) => ({ path: l.path, weight: l.weight }));
/** A switched-on group whose file is not chosen yet: the form says so rather than sending it. */
const missingFile = (fields: EditorField[], values: Loose): EditorField | undefined => fields.find((f) => f.kind === 'file' && !values[f.key]);

export function defaultVariant(label: string): VariantForm {
  const form: Loose = { label };
  for (const d of accelerations()) {
    const defaults = optionDefaults(d);
    if (d.editor.group) form[d.editor.group.key] = { enabled: false, ...d.editor.group.defaults };
    for (const f of d.editor.fields ?? []) form[f.key] = f.kind === 'file-list' ? [] : defaults[f.key];
    for (const k of Object.keys(d.options)) if (!(k in form)) form[k] = defaults[k];
  }
  return form as VariantForm;
}

/** Form -> contract: shared LoRAs (the inputs') first, then the variant's own. */
export function toVariant(f: VariantForm, shared: LoraPick[] = []): VariantInput {
  const form = f as unknown as Loose, v: Loose = { label: f.label };
  for (const d of accelerations()) {
    for (const k of Object.keys(d.options)) if (form[k] !== undefined) v[k] = form[k];
    for (const field of d.editor.fields ?? []) {
      if (field.kind === 'file-list') v[field.key] = picked([...(field.shared ? shared : []), ...(form[field.key] as LoraPick[])]);
    }
    const g = d.editor.group;
    if (g) {
      const { enabled, ...values } = form[g.key] as Loose;
      if (enabled && !missingFile(g.fields, values)) v[g.key] = values;
      else delete v[g.key];
    }
  }
  return v as VariantInput;
}

/** Contract -> form (a history entry into the editors): every LoRA becomes the variant's own pick. */
export function fromVariant(v: Variant): VariantForm {
  const form = defaultVariant(v.label) as unknown as Loose, given = v as unknown as Loose;
  for (const d of accelerations()) {
    for (const k of Object.keys(d.options)) if (given[k] !== undefined) form[k] = given[k];
    for (const field of d.editor.fields ?? []) {
      if (field.kind === 'file-list') form[field.key] = ((given[field.key] ?? []) as { path: string; weight: number }[]).map((l) => ({ ...l, enabled: true }));
    }
    const g = d.editor.group;
    if (g) form[g.key] = given[g.key] ? { ...(form[g.key] as Loose), ...(given[g.key] as Loose), enabled: true } : { ...(form[g.key] as Loose), enabled: false };
  }
  return form as unknown as VariantForm;
}

/** The contract's verdict on a form, as the editor shows it (undefined = valid). */
export function variantProblem(f: VariantForm, shared: LoraPick[] = []): string | undefined {
  for (const d of accelerations()) {
    const g = d.editor.group;
    const values = g && ((f as unknown as Loose)[g.key] as Loose);
    if (g && values?.enabled && missingFile(g.fields, values)) return `${g.label}: pick a file`;
  }
  const r = Variant.safeParse(toVariant(f, shared));
  return r.success ? undefined : describeIssues(r.error);
}

export interface VariantsSlice {
  a: VariantForm;
  b: VariantForm;
  setVariant(side: Side, patch: Partial<VariantForm>): void;
  copyAtoB(): void;
}

export const variantsSlice: StateCreator<StudioState, [], [], VariantsSlice> = (set) => {
  const b = defaultVariant('DeepCache');
  return {
    a: defaultVariant('baseline'),
    b: { ...b, deepcache: { ...b.deepcache, enabled: true } },
    setVariant: (side, patch) => set((s) => (side === 'A' ? { a: { ...s.a, ...patch } } : { b: { ...s.b, ...patch } })),
    copyAtoB: () => set((s) => ({ b: { ...structuredClone(s.a), label: s.b.label } })),
  };
};
