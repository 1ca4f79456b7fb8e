import type { ReactNode } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { accelerations } from '../../app/accelerations/registry';
import { fileName, type EditorField, type EditorGroup } from '../../app/accelerations/descriptor';
import type { LoraEntry, ProviderStatus, Side } from '../../app/studio';
import { useStudio } from '../store';
import { currentModel } from '../store/model';
import { variantProblem, type LoraPick, type VariantForm } from '../store/variants';
import { Field, Slider, Toggle } from './controls';
import { plainProviderReason } from '../../app/errors';

/** What the fields show besides the form: provider availability and the model's LoRA files. */
export interface EditorContext {
  side: Side;
  providers: readonly ProviderStatus[];
  files: readonly LoraEntry[];
  /** This side allows CPU fallback (what an unavailable provider's note says). */
  fallback?: boolean;
}

interface Bound {
  field: EditorField;
  value: unknown;
  set(value: unknown): void;
  /** The group's label, for the aria-label and test id ("DeepCache branch"). */
  group?: EditorGroup;
  disabled?: boolean;
}

type Loose = Record<string, unknown>;
const shortName = (p: string): string => fileName(p).replace(/\.safetensors$/, '');
const idOf = (b: Bound, side: Side): string => `${b.group ? `${b.group.key}-` : ''}${b.field.key}-${side}`;

function FieldControl({ b, ctx }: { b: Bound; ctx: EditorContext }) {
  const { field: f, value, set, disabled } = b;
  const aria = b.group ? `${b.group.label} ${f.label}` : f.label;
  switch (f.kind) {
    case 'checkbox':
      return <Toggle label={f.label} checked={value as boolean} onChange={set} disabled={disabled} testId={idOf(b, ctx.side)} />;
    case 'number':
      return <Slider label={f.label} value={(value as number | undefined) ?? f.min} min={f.min} max={f.max} step={f.step} onChange={set} format={f.format} testId={idOf(b, ctx.side)} />;
    case 'select': {
      const status = (id: unknown) => (f.availability ? ctx.providers.find((p) => p.id === id) : undefined);
      const chosen = status(value);
      // an unavailable choice is said below the row, full width (layout), not squeezed under the select
      const hint = chosen && !chosen.available ? undefined
        : chosen?.adapter?.software ? <span className="warn" data-testid={`adapter-${ctx.side}`} title={chosen.adapter.name}>{chosen.label?.replace(/^webgpu — /, '')}: a CPU, not a GPU</span>
        : typeof f.help === 'function' ? f.help(value) : f.help;
      const numeric = typeof f.choices[0] === 'number';
      return (
        <Field label={f.label} hint={hint}>
          <select value={String(value)} onChange={(e) => set(numeric ? Number(e.target.value) : e.target.value)} aria-label={aria} disabled={disabled} data-testid={idOf(b, ctx.side)}>
            {f.choices.map((c) => {
              const s = status(c);
              // selectable even when unavailable: that is how a run with CPU fallback is set up
              return <option key={c} value={c} title={s?.reason}>{s?.label ?? c}{s && !s.available ? ' — unavailable' : ''}</option>;
            })}
          </select>
        </Field>
      );
    }
    case 'file':
      return (
        <select value={value as string} onChange={(e) => set(e.target.value)} aria-label={aria} disabled={disabled}>
          <option value="">{f.empty}</option>
          {ctx.files.map((l) => <option key={l.path} value={l.path}>{l.name}</option>)}
        </select>
      );
    case 'file-list': {
      const chosen = value as LoraPick[];
      const picks = ctx.files.map((l) => chosen.find((x) => x.path === l.path) ?? { path: l.path, weight: 1, enabled: false });
      const setPick = (path: string, patch: Partial<LoraPick>): void => set(picks.map((p) => (p.path === path ? { ...p, ...patch } : p)));
      return (
        <fieldset className="group">
          <legend>{f.label}</legend>
          {picks.length === 0 && <span className="hint">{f.empty}</span>}
          {picks.map((l) => (
            <div className="lora" key={l.path}>
              <Toggle label={shortName(l.path)} checked={l.enabled} onChange={(enabled) => setPick(l.path, { enabled })} />
              <input type="range" min={f.weight.min} max={f.weight.max} step={f.weight.step} value={l.weight} disabled={!l.enabled} onChange={(e) => setPick(l.path, { weight: Number(e.target.value) })} aria-label={`${f.label} weight`} />
              <b>{l.weight.toFixed(2)}</b>
            </div>
          ))}
        </fieldset>
      );
    }
  }
}

/** A provider's failure in plain words, and the raw text (a C++ assertion, say) behind a "details" toggle placed last. */
function reason(raw: string): { text: string; details?: ReactNode } {
  const r = plainProviderReason(raw);
  return r.plain ? { text: r.plain, details: <details className="raw-reason"><summary>details</summary><code>{r.raw}</code></details> } : { text: r.raw };
}

function UnavailableProviders({ providers }: { providers: readonly ProviderStatus[] }) {
  const off = providers.filter((p) => !p.available);
  if (!off.length) return null;
  return (
    <details className="unavailable"><summary>{off.length} providers unavailable here</summary>
      <ul>{off.map((p) => {
        const r = reason(p.reason ?? 'unavailable');
        return (
          <li key={p.id} data-testid={`provider-status-${p.id}`}><b>{p.id}</b>: {r.text}{r.details}
            {p.problems && p.problems.length > 0 && (
              <details><summary>what is missing ({p.problems.length})</summary><ul className="problems">{p.problems.map((x) => <li key={x}>{x}</li>)}</ul></details>
            )}
            {p.fix && <div>fix: <code>{p.fix}</code></div>}
          </li>
        );
      })}</ul>
    </details>
  );
}

/** Fields in declared order; consecutive selects share a row, and so do consecutive toggles. */
function layout(bound: Bound[], ctx: EditorContext): ReactNode[] {
  const out: ReactNode[] = [];
  let selects: Bound[] = [], toggles: Bound[] = [];
  const flush = (): void => {
    if (selects.length) out.push(<div className="row" key={`s${out.length}`}>{selects.map((b) => <FieldControl key={b.field.key} b={b} ctx={ctx} />)}</div>);
    const avail = selects.find((b) => b.field.kind === 'select' && b.field.availability);
    const chosen = avail && ctx.providers.find((p) => p.id === avail.value);
    if (chosen && !chosen.available) {
      const r = reason(chosen.reason ?? 'unavailable');
      out.push(
        <div className="note warn" key={`c${out.length}`} data-testid={`unavailable-${ctx.side}`}>
          {chosen.id} is unavailable here: {r.text}. {ctx.fallback ? 'It will run on the CPU (fallback on).' : 'Turn on CPU fallback to run on the CPU instead.'}{r.details}
        </div>,
      );
    }
    if (avail) out.push(<UnavailableProviders key={`u${out.length}`} providers={ctx.providers} />);
    if (toggles.length) out.push(<div className="row wrap" key={`t${out.length}`}>{toggles.map((b) => <FieldControl key={b.field.key} b={b} ctx={ctx} />)}</div>);
    selects = [];
    toggles = [];
  };
  for (const b of bound) {
    if (b.field.kind === 'select') selects.push(b);
    else if (b.field.kind === 'checkbox') toggles.push(b);
    else {
      flush();
      out.push(<FieldControl key={b.field.key} b={b} ctx={ctx} />);
    }
  }
  flush();
  return out;
}

/**
 * Every acceleration option of one side, as its descriptor declares it (app/accelerations/):
 * top-level fields bound to the form's keys, optional groups as a fieldset with a toggle.
 */
export function VariantFields({ form, onChange, ctx }: { form: VariantForm; onChange(patch: Partial<VariantForm>): void; ctx: EditorContext }) {
  const values = form as unknown as Loose;
  const set = (key: string, value: unknown): void => onChange({ [key]: value } as Partial<VariantForm>);
  const out: ReactNode[] = [];
  let top: Bound[] = [];
  for (const d of accelerations()) {
    const g = d.editor.group;
    if (!g) {
      top.push(...d.editor.fields.map((field): Bound => ({ field, value: values[field.key], set: (v) => set(field.key, v) })));
      continue;
    }
    out.push(...layout(top, ctx));
    top = [];
    const gv = values[g.key] as Loose & { enabled: boolean };
    const inner = g.fields.map((field): Bound => ({ field, group: g, value: gv[field.key], set: (v) => set(g.key, { ...gv, [field.key]: v }), disabled: field.kind === 'file' && !gv.enabled }));
    out.push(
      <fieldset className={`group${gv.enabled ? '' : ' off'}`} key={g.key}>
        <legend><Toggle label={g.label} checked={gv.enabled} onChange={(enabled) => set(g.key, { ...gv, enabled })} testId={`${g.key}-${ctx.side}`} /></legend>
        {layout(inner, ctx)}
        {g.help && <span className="hint">{g.help}</span>}
      </fieldset>,
    );
  }
  out.push(...layout(top, ctx));
  return <>{out}</>;
}

/** One side's variant: its label, the descriptors' fields, and what the contract says of it. */
export function VariantEditor({ side }: { side: Side }) {
  const v = useStudio(useShallow((s) => (side === 'A' ? s.a : s.b)));
  const setVariant = useStudio((s) => s.setVariant);
  const providers = useStudio((s) => s.providers);
  const model = useStudio(currentModel);
  const shared = useStudio((s) => s.sharedLoras);
  const problem = variantProblem(v, shared);
  return (
    <div className="variant" data-testid={`variant-${side}`}>
      <Field label="Label"><input value={v.label} maxLength={40} onChange={(e) => setVariant(side, { label: e.target.value })} /></Field>
      <VariantFields form={v} onChange={(patch) => setVariant(side, patch)} ctx={{ side, providers, files: model?.loras ?? [], fallback: v.allowFallback }} />
      {problem && <p className="note error">{problem}</p>}
    </div>
  );
}
