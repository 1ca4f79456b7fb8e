import { useMemo, useState } from 'react';
import { useStudio } from '../store';
import { sweepView } from '../charts/chart-data';
import { SweepScatter } from '../charts/sweep-scatter';
import { Slider, Toggle } from './controls';

const INTERVALS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];

export function SweepPanel() {
  const current = useStudio((s) => s.current);
  const images = useStudio((s) => s.images);
  const job = useStudio((s) => s.job);
  const runSweep = useStudio((s) => s.runSweep);
  const threshold = useStudio((s) => s.ssimThreshold);
  const setUi = useStudio((s) => s.setUi);
  const [branches, setBranches] = useState<number[]>([0]);
  const [repeats, setRepeats] = useState(1);
  const sweep = current?.kind === 'sweep' ? current.sweep : undefined;
  const view = useMemo(() => (sweep ? sweepView(sweep.points, threshold) : undefined), [sweep, threshold]);
  const busy = job?.status === 'running' || job?.status === 'queued';
  return (
    <div className="sweep">
      <div className="toolbar">
        <span className="field-label">Branches</span>
        {Array.from({ length: 12 }, (_, b) => (
          <Toggle key={b} label={String(b)} checked={branches.includes(b)} onChange={(on) => setBranches((bs) => (on ? [...bs, b].sort((x, y) => x - y) : bs.filter((x) => x !== b)))} />
        ))}
      </div>
      <div className="toolbar">
        <span className="hint">intervals 1…10 × {branches.length} branch{branches.length === 1 ? '' : 'es'} on variant A's options, {branches.length * (1 + INTERVALS.length * repeats)} runs</span>
        <Slider label="repeats" value={repeats} min={1} max={5} step={1} onChange={setRepeats} />
        <button className="primary" disabled={busy || branches.length === 0} onClick={() => void runSweep(branches, INTERVALS, repeats)} data-testid="run-sweep">Run DeepCache sweep</button>
      </div>
      {!view ? (
        <div className="empty"><p>One click runs DeepCache at intervals 1…10 for each chosen branch and plots latency against SSIM to the interval-1 image. Reopen a sweep from the history to see it here.</p></div>
      ) : (
        <>
          <div className="toolbar">
            <Slider label="SSIM ≥" value={threshold} min={0.5} max={1} step={0.005} onChange={(ssimThreshold) => setUi({ ssimThreshold })} format={(v) => v.toFixed(3)} />
            <p className="headline" data-testid="sweep-best">
              {view.best ? <>Fastest with SSIM ≥ {threshold.toFixed(3)}: <b>N={view.best.interval}, branch {view.best.branch}</b> · {view.best.latencyMs.toFixed(1)} ms · SSIM {view.best.ssim.toFixed(4)}</> : 'no setting reaches this SSIM'}
            </p>
          </div>
          <figure className="chart" data-testid="chart-sweep"><SweepScatter view={view} /></figure>
          <div className="sweep-grid">
            {sweep!.points.map((p) => (
              <figure key={p.image} className={view.best === p ? 'best' : view.frontier.includes(p) ? 'pareto' : ''}>
                {images[p.image] && <img src={images[p.image]} alt="" />}
                <figcaption>N={p.interval} b{p.branch} · {p.latencyMs.toFixed(0)} ms · {p.ssim.toFixed(3)}</figcaption>
              </figure>
            ))}
          </div>
        </>
      )}
    </div>
  );
}
