import type { ReactNode } from 'react';

/** Small form controls shared by the panels. */
export function Field({ label, children, hint }: { label: string; children: ReactNode; hint?: ReactNode }) {
  return (
    <label className="field">
      <span className="field-label">{label}</span>
      {children}
      {hint && <span className="hint">{hint}</span>}
    </label>
  );
}

export function Slider(props: { label: string; value: number; min: number; max: number; step: number; onChange(v: number): void; format?: (v: number) => string; testId?: string }) {
  const { label, value, min, max, step, onChange, format = String, testId } = props;
  return (
    <label className="field slider">
      <span className="field-label">{label}<b>{format(value)}</b></span>
      <input type="range" min={min} max={max} step={step} value={value} onChange={(e) => onChange(Number(e.target.value))} aria-label={label} data-testid={testId} />
    </label>
  );
}

export function Toggle({ label, checked, onChange, disabled, testId }: { label: string; checked: boolean; onChange(v: boolean): void; disabled?: boolean; testId?: string }) {
  return (
    <label className={`toggle${disabled ? ' disabled' : ''}`}>
      <input type="checkbox" checked={checked} disabled={disabled} onChange={(e) => onChange(e.target.checked)} data-testid={testId} />
      <span className="switch" aria-hidden />
      {label}
    </label>
  );
}

export function Section({ title, children, right }: { title: string; children: ReactNode; right?: ReactNode }) {
  return (
    <section className="section">
      <h3>{title}{right && <span className="section-right">{right}</span>}</h3>
      {children}
    </section>
  );
}
