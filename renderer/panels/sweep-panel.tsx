import { useMemo, useState } from 'react';
import type { SweepPoint } from '../../app/studio';
import { useStudio } from '../store';
import { pointLatency, sweepVariant, sweepView } from '../charts/chart-data';
import { SweepScatter } from '../charts/sweep-scatter';
import { Slider, Toggle } from './controls';

const INTERVALS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
const name = (p: SweepPoint) => `N=${p.interval}, branch ${p.branch}`;

export function SweepPanel() {
  const current = useStudio((s) => s.origin ?? s.current);
  const images = useStudio((s) => s.images);
  const job = useStudio((s) => s.job);
  const runSweep = useStudio((s) => s.runSweep);
  const threshold = useStudio((s) => s.ssimThreshold);
  const setUi = useStudio((s) => s.setUi);
  const openPair = useStudio((s) => s.openPair);
  const applyVariant = useStudio((s) => s.applyVariant);
  const [branches, setBranches] = useState<number[]>([0]);
  const [repeats, setRepeats] = useState(3);
  const [applied, setApplied] = useState<string>();
  const sweep = current?.kind === 'sweep' ? current.sweep : undefined;
  const view = useMemo(() => (sweep ? sweepView(sweep.points, threshold) : undefined), [sweep, threshold]);
  const busy = job?.status === 'running' || job?.status === 'queued';
  const ref = sweep?.points.find((p) => p.image === sweep.reference);
  const open = (p: SweepPoint) => {
    if (!sweep || !ref) return;
    openPair({ file: ref.image, label: `N=1 b${ref.branch} (reference)`, variant: sweepVariant(sweep, ref) }, { file: p.image, label: `N=${p.interval} b${p.branch}`, variant: sweepVariant(sweep, p) });
  };
  const apply = (p: SweepPoint) => {
    applyVariant('B', sweepVariant(sweep!, p), `DeepCache N=${p.interval} b${p.branch}`);
    setApplied(name(p));
  };
  return (
    <div className="sweep">
      <div className="toolbar">
        <span className="field-label">Branches</span>
        {Array.from({ length: 12 }, (_, b) => (
          <Toggle key={b} label={String(b)} checked={branches.includes(b)} onChange={(on) => setBranches((bs) => (on ? [...bs, b].sort((x, y) => x - y) : bs.filter((x) => x !== b)))} />
        ))}
      </div>
      <div className="toolbar">
        <span className="hint">intervals 1…10 × {branches.length} branch{branches.length === 1 ? '' : 'es'} on variant A's options, {branches.length * (1 + INTERVALS.length * repeats)} runs (interleaved, order rotated each round)</span>
        <Slider label="repeats" value={repeats} min={1} max={5} step={1} onChange={setRepeats} testId="sweep-repeats" />
        <button className="primary" disabled={busy || branches.length === 0} onClick={() => void runSweep(branches, INTERVALS, repeats)} data-testid="run-sweep">Run DeepCache sweep</button>
      </div>
      {!view ? (
        <div className="empty"><p>One click runs DeepCache at intervals 1…10 for each chosen branch and plots latency against SSIM to the interval-1 image. Reopen a sweep from the history to see it here.</p></div>
      ) : (
        <>
          <div className="toolbar">
            <Slider label="SSIM ≥" value={threshold} min={0.5} max={1} step={0.005} onChange={(ssimThreshold) => setUi({ ssimThreshold })} format={(v) => v.toFixed(3)} />
            <p className="headline" data-testid="sweep-best">
              {view.best ? <>Fastest with SSIM ≥ {threshold.toFixed(3)}: <b>{name(view.best)}</b> · {pointLatency(view.best)} · SSIM {view.best.ssim.toFixed(4)}</> : 'no setting reaches this SSIM'}
            </p>
            {view.best && <button onClick={() => apply(view.best!)} data-testid="sweep-apply-b">Apply to B</button>}
            {view.best && <button className="ghost" onClick={() => open(view.best!)} data-testid="sweep-open-best">Compare with N=1</button>}
          </div>
          {view.best && (
            <p className="hint" data-testid="sweep-noise">
              {(view.best.n ?? 1) < 2 ? 'One run per setting: no spread to tell a real difference from noise; run with more repeats.'
                : view.ties.length ? <>Within noise of it (IQRs overlap): {view.ties.map(name).join('; ')}: either could be the fastest.</>
                : 'No other setting above the threshold is within noise of it (no IQR overlaps).'}
              {applied && <> · B is now DeepCache {applied}.</>}
            </p>
          )}
          <figure className="chart" data-testid="chart-sweep"><SweepScatter view={view} threshold={threshold} onPick={open} /></figure>
          <div className="sweep-grid">
            {sweep!.points.map((p) => (
              <figure key={p.image} className={view.best === p ? 'best' : view.frontier.includes(p) ? 'pareto' : ''}>
                {images[p.image] && <button className="thumb" onClick={() => open(p)} title={`compare ${name(p)} with N=1`} data-testid={`sweep-thumb-${p.interval}-${p.branch}`}><img src={images[p.image]} alt="" /></button>}
                <figcaption>N={p.interval} b{p.branch} · {p.ssim.toFixed(3)}<br />{pointLatency(p)} <button className="ghost mini" onClick={() => apply(p)} title="put this setting on variant B">→ B</button></figcaption>
              </figure>
            ))}
          </div>
        </>
      )}
    </div>
  );
}
