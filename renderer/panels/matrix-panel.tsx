import { useMemo, useState } from 'react';
import { latencyText, matrixSettings, MAX_MATRIX_SETTINGS } from '../../app/grid';
import { Variant } from '../../app/variant';
import { useStudio } from '../store';
import { currentModel } from '../store/model';
import { toVariant } from '../store/variants';
import { CellTable } from '../charts/cell-table';
import { Slider, Toggle } from './controls';
import { useCellActions } from './use-cell-actions';

/** By default one setting per option (the first other value of each), so the matrix stays small. */
const firstPerOption = (labels: { label: string; patch: Record<string, unknown> }[]): string[] => {
  const seen = new Set<string>();
  return labels.filter((s) => {
    const k = Object.keys(s.patch).join();
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  }).map((s) => s.label);
};

/** Compatibility matrix: every pair of acceleration options on the current model, on variant A's options. */
export function MatrixPanel() {
  const current = useStudio((s) => s.origin ?? s.current);
  const images = useStudio((s) => s.images);
  const job = useStudio((s) => s.job);
  const runMatrix = useStudio((s) => s.runMatrix);
  const a = useStudio((s) => s.a);
  const shared = useStudio((s) => s.sharedLoras);
  const loras = useStudio((s) => currentModel(s)?.loras);
  const base = useMemo(() => Variant.safeParse(toVariant(a, shared)), [a, shared]);
  const settings = useMemo(() => (base.success ? matrixSettings(base.data, (loras ?? []).map((l) => l.path)) : []), [base, loras]);
  const [picked, setPicked] = useState<string[] | undefined>();
  const chosen = picked ?? firstPerOption(settings);
  const run = settings.filter((s) => chosen.includes(s.label));
  const [repeats, setRepeats] = useState(2);
  const g = current?.kind === 'matrix' ? current.grid : undefined;
  const actions = useCellActions(g);
  const busy = job?.status === 'running' || job?.status === 'queued';
  const toggle = (label: string, on: boolean) => setPicked(on ? [...chosen, label] : chosen.filter((l) => l !== label));
  const pairs = run.length * (run.length + 1) / 2;
  const problem = !base.success ? `variant A is not valid: ${base.error.issues[0]?.message}` : run.length === 0 ? 'pick at least one option' : run.length > MAX_MATRIX_SETTINGS ? `at most ${MAX_MATRIX_SETTINGS} options` : undefined;
  return (
    <div className="sweep matrix-view">
      <div className="toolbar settings" data-testid="matrix-settings">
        <span className="field-label">Options</span>
        <button className="ghost mini" onClick={() => setPicked([])} data-testid="matrix-none">none</button>
        {settings.map((s) => <Toggle key={s.label} label={s.label} checked={chosen.includes(s.label)} onChange={(on) => toggle(s.label, on)} />)}
      </div>
      <div className="toolbar">
        <Slider label="repeats" value={repeats} min={1} max={5} step={1} onChange={setRepeats} testId="matrix-repeats" />
        <span className={problem ? 'warn' : 'hint'} data-testid="matrix-plan">{problem ?? `the base, ${run.length} options alone and their pairs (up to ${1 + pairs} cells) × ${repeats} repeats · on variant A's options`}</span>
        <button className="primary" disabled={busy || !!problem} onClick={() => void runMatrix(run, repeats)} data-testid="run-matrix">Run matrix</button>
      </div>
      {!g ? (
        <div className="empty"><p>Runs the base (variant A), each chosen option alone and every pair of them on the current model: each cell says whether it ran (speed-up and SSIM against the base), was refused (the engine's reason) or failed (the error).</p></div>
      ) : (
        <>
          <p className="headline" data-testid="matrix-base">Base: {g.cells[g.reference]?.status === 'ran' ? latencyText(g.cells[g.reference]!) : g.cells[g.reference]?.status} <span className="hint">· diagonal: the option alone; above it: the row's option with the column's; speed-up and SSIM against the base</span></p>
          <CellTable g={g} images={images} onOpen={actions.open} onApply={actions.apply} />
        </>
      )}
    </div>
  );
}
