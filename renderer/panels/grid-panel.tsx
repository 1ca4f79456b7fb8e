import { useMemo, useState } from 'react';
import { axisSpec, gridAxes, MAX_GRID_CELLS, parseAxisValues, type AxisValue } from '../../app/grid';
import { useStudio } from '../store';
import { CellTable } from '../charts/cell-table';
import { gridPng } from '../charts/grid-png';
import { Slider } from './controls';
import { download } from './download';
import { useCellActions } from './use-cell-actions';

interface AxisForm {
  key: string;
  text: string;
}
const NAMES = ['X', 'Y', 'Z'] as const;
const START: AxisForm[] = [{ key: 'deepcache.interval', text: '1, 2, 3' }, { key: '', text: '' }, { key: '', text: '' }];

/** Each axis's values parsed, or the first problem (shown, and the run button stays off). */
function parseAxes(forms: AxisForm[]): { axes: { key: string; values: AxisValue[] }[]; cells: number } | { error: string } {
  try {
    const axes = forms.filter((f) => f.key).map((f) => ({ key: f.key, values: parseAxisValues(axisSpec(f.key), f.text) }));
    if (new Set(axes.map((a) => a.key)).size !== axes.length) return { error: 'each axis must vary a different parameter' };
    const cells = axes.reduce((n, a) => n * a.values.length, 1);
    if (cells > MAX_GRID_CELLS) return { error: `${cells} cells: at most ${MAX_GRID_CELLS}` };
    return { axes, cells };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

/** X/Y/Z grid over any parameter or acceleration option, on variant A's options. */
export function GridPanel() {
  const current = useStudio((s) => s.origin ?? s.current);
  const images = useStudio((s) => s.images);
  const job = useStudio((s) => s.job);
  const runGrid = useStudio((s) => s.runGrid);
  const notify = useStudio((s) => s.notify);
  const [forms, setForms] = useState<AxisForm[]>(START);
  const [repeats, setRepeats] = useState(3);
  const axes = useMemo(() => gridAxes(), []);
  const parsed = useMemo(() => parseAxes(forms), [forms]);
  const g = current?.kind === 'grid' ? current.grid : undefined;
  const actions = useCellActions(g);
  const busy = job?.status === 'running' || job?.status === 'queued';
  const set = (i: number, patch: Partial<AxisForm>) => setForms((fs) => fs.map((f, k) => (k === i ? { ...f, ...patch } : f)));
  return (
    <div className="sweep grid-view">
      {forms.map((f, i) => (
        <div className="toolbar axis-row" key={NAMES[i]}>
          <span className="field-label axis-name">{NAMES[i]}</span>
          <select value={f.key} onChange={(e) => set(i, { key: e.target.value, text: f.key === e.target.value ? f.text : '' })} aria-label={`${NAMES[i]} axis`} data-testid={`axis-${i}`}>
            {i > 0 && <option value="">— none —</option>}
            {axes.map((a) => <option key={a.key} value={a.key}>{a.label}</option>)}
          </select>
          {f.key && <input value={f.text} onChange={(e) => set(i, { text: e.target.value })} placeholder={axisSpec(f.key).help} aria-label={`${NAMES[i]} values`} data-testid={`axis-values-${i}`} />}
        </div>
      ))}
      <div className="toolbar">
        <Slider label="repeats" value={repeats} min={1} max={5} step={1} onChange={setRepeats} testId="grid-repeats" />
        <span className={'error' in parsed ? 'warn' : 'hint'} data-testid="grid-plan">
          {'error' in parsed ? parsed.error : `${parsed.cells} cells × ${repeats} repeats, interleaved · on variant A's options`}
        </span>
        <button className="primary" disabled={busy || 'error' in parsed} onClick={() => 'axes' in parsed && void runGrid(parsed.axes, repeats)} data-testid="run-grid">Run grid</button>
      </div>
      {!g ? (
        <div className="empty"><p>Pick up to three axes (any parameter or acceleration option) and their values. Every cell runs {repeats}× interleaved; each shows its time with the spread, and PSNR/SSIM against the first cell. Reopen a grid from the history to see it here.</p></div>
      ) : (
        <>
          <div className="toolbar">
            <p className="headline">Reference: <b>{g.cells[g.reference]?.label}</b> <span className="hint">· times are medians of the steady runs (a session's first run kept apart); "within noise" when the IQRs overlap</span></p>
            <button onClick={() => void gridPng(g, images, `Grid · ${current!.params.prompt}`).then((b) => download(b, `grid-${current!.id}.png`), (e: Error) => notify(e.message))} data-testid="export-grid-png">Export PNG</button>
          </div>
          <CellTable g={g} images={images} onOpen={actions.open} onApply={actions.apply} />
        </>
      )}
    </div>
  );
}
