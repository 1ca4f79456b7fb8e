import { useState } from 'react';
import { describeIssues } from '../../app/errors';
import { speedup, speedupSpread } from '../../app/run-stats';
import type { RunRecord } from '../../app/studio';
import { readVerdict, VERDICT_TEXT, VerdictThresholds, whereIs } from '../../app/verdict';
import { useStudio } from '../store';
import type { MetricsResponse } from '../workers/metrics.worker';

/** The thresholds of the reading, editable; a refused pair is said, not applied. */
function Thresholds() {
  const t = useStudio((s) => s.thresholds);
  const setUi = useStudio((s) => s.setUi);
  const [draft, setDraft] = useState({ identical: String(t.identical), small: String(t.small) });
  const parsed = VerdictThresholds.safeParse({ identical: Number(draft.identical), small: Number(draft.small) });
  const edit = (k: 'identical' | 'small', v: string): void => {
    const next = { ...draft, [k]: v };
    setDraft(next);
    const r = VerdictThresholds.safeParse({ identical: Number(next.identical), small: Number(next.small) });
    if (r.success && next.identical !== '' && next.small !== '') setUi({ thresholds: r.data });
  };
  return (
    <details className="thresholds" data-testid="thresholds">
      <summary>thresholds</summary>
      <div className="thresholds-body">
        <label>visually identical: SSIM ≥ <input type="number" step={0.005} min={0} max={1} value={draft.identical} onChange={(e) => edit('identical', e.target.value)} data-testid="threshold-identical" /></label>
        <label>small differences: SSIM ≥ <input type="number" step={0.01} min={0} max={1} value={draft.small} onChange={(e) => edit('small', e.target.value)} data-testid="threshold-small" /></label>
        <span className="hint">below that: different. PSNR ∞ (no pixel differs): pixel-identical.</span>
        {!parsed.success && <span className="note error" data-testid="threshold-error">{describeIssues(parsed.error)}</span>}
      </div>
    </details>
  );
}

const x2 = (v: number): string => `${v.toFixed(2)}×`;

/** The Compare tab's headline: speed-up with its spread, the metrics, a plain-words reading and where the pair differs most. */
export function Verdict({ runs, metrics }: { runs: readonly RunRecord[]; metrics?: MetricsResponse }) {
  const t = useStudio((s) => s.thresholds);
  const highlight = useStudio((s) => s.highlight);
  const setUi = useStudio((s) => s.setUi);
  const setZoom = useStudio((s) => s.setZoom);
  const sp = speedup(runs);
  const range = speedupSpread(runs);
  const level = metrics && readVerdict(metrics, t);
  const w = metrics?.worst;
  const showWorst = (): void => {
    if (!w || !metrics) return;
    if (highlight) return setUi({ highlight: undefined });
    setUi({ highlight: w });
    // the tile fills about half the view, centred
    setZoom(Math.max(1, Math.min(8, Math.min(metrics.width / w.w, metrics.height / w.h) / 2)), { x: (w.x + w.w / 2) / metrics.width, y: (w.y + w.h / 2) / metrics.height });
  };
  return (
    <div className="verdict" data-testid="verdict">
      {level && <b className={`reading ${level}`} data-testid="reading" data-figure>{VERDICT_TEXT[level]}</b>}
      <span data-testid="verdict-speed" data-figure>
        {sp ? <>B <b className={sp >= 1 ? 'good' : 'bad'}>{x2(sp)}</b> {sp >= 1 ? 'faster' : 'slower'}</> : runs.length ? 'B did not run' : 'images opened from a sweep or grid: their times are there'}
        {sp && <span className="hint">{range ? ` (${x2(range.low)}–${x2(range.high)}, IQR of ${range.runs[0]}+${range.runs[1]} runs)` : ' (1 steady run a side: no spread)'}</span>}
      </span>
      <span className="figures" data-testid="figures">
        {metrics && (
          <>
            <span data-figure>PSNR <b data-testid="psnr">{metrics.psnr === null ? '∞' : `${metrics.psnr.toFixed(2)} dB`}</b></span>
            <span data-figure>SSIM <b data-testid="ssim">{metrics.ssim.toFixed(4)}</b></span>
          </>
        )}
      </span>
      {metrics && w && metrics.psnr !== null && (
        <button className={`ghost worst${highlight ? ' active' : ''}`} onClick={showWorst} data-testid="show-worst" title={`tile x ${w.x}–${w.x + w.w}, y ${w.y}–${w.y + w.h}: mean difference ${(w.mean * 100).toFixed(1)}%`}>
          {highlight ? 'hide' : 'most different:'} {whereIs(w, metrics.width, metrics.height)} ({(w.mean * 100).toFixed(1)}%)
        </button>
      )}
      <Thresholds />
    </div>
  );
}
