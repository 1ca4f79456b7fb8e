import { useMemo } from 'react';
import { sideStats, speedup, stageRows, stepsNote, withinNoise, type SideStats } from '../../app/run-stats';
import { useStudio } from '../store';
import { stepRows } from '../charts/chart-data';
import { StageBars } from '../charts/stage-bars';
import { StepLines } from '../charts/step-lines';
import { Totals } from '../charts/totals';

const ms = (v: number | undefined): string => (v === undefined || !Number.isFinite(v) ? '–' : `${v.toFixed(v < 10 ? 2 : 1)} ms`);

/** What the headline's figures are: steady state, or first runs only; and whether A and B differ beyond noise. */
function basis(stats: SideStats[]): { basis: string; noise?: string } {
  if (stats.some((s) => s.firstOnly)) return { basis: 'first runs only: sessions were just opened, so warm-up is included; run more repeats for a steady state' };
  const [a, b] = stats;
  const near = a && b ? withinNoise(a, b) : undefined;
  return {
    basis: 'median total, steady state',
    noise: near === undefined ? 'one steady run per side: no spread, so noise cannot be told apart' : near ? 'within noise: the IQRs of A and B overlap' : 'beyond noise: the IQRs of A and B do not overlap',
  };
}

export function LatencyPanel() {
  const current = useStudio((s) => s.current);
  const c = current?.compare;
  const data = useMemo(() => {
    if (!c || !c.runs.length) return undefined;
    const labels = { A: c.a.label, B: c.b.label };
    return { labels, stages: stageRows(c.runs), steps: stepRows(c.runs), stats: sideStats(c.runs, labels), speedup: speedup(c.runs) };
  }, [c]);
  if (!data) return <div className="empty"><p>Run A / B to see latency per stage and per step.</p></div>;
  const sp = data.speedup;
  const b = basis(data.stats);
  return (
    <div className="latency" data-testid="latency">
      <p className="headline" data-testid="speedup">
        {sp ? <>B is <b className={sp >= 1 ? 'good' : 'bad'}>{sp.toFixed(2)}×</b> {sp >= 1 ? 'faster' : 'slower'} than A</> : 'B has not run yet'}
        <span className="hint" data-testid="latency-basis"> ({b.basis})</span>
        {b.noise && <span className={`noise${b.noise.startsWith('within') ? ' warn' : ''}`} data-testid="latency-noise"> · {b.noise}</span>}
      </p>
      <table className="stats">
        <thead><tr><th /><th>median</th><th>min … max</th><th>IQR</th><th>first run</th><th>steady runs</th><th>steps · full UNet calls</th><th>provider</th></tr></thead>
        <tbody>
          {data.stats.map((s) => (
            <tr key={s.side}>
              <th className={`side-${s.side.toLowerCase()}`}>{s.side} · {s.label}</th>
              <td>{ms(s.median)}{s.firstOnly ? ' (first run)' : ''}</td><td>{s.n > 1 ? `${ms(s.min)} … ${ms(s.max)}` : '–'}</td><td title={s.n > 1 ? undefined : 'one run: no spread'}>{s.n > 1 ? ms(s.q3 - s.q1) : '–'}</td><td>{ms(s.firstMs)}</td><td>{s.firstOnly ? 0 : s.n}</td>
              <td title={stepsNote(s.setSteps, s.steps, s.scheduler)}>{s.setSteps} · {s.fullSteps}/{s.steps}</td><td>{s.provider}{s.fellBack ? ' (fell back)' : ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {[...new Set(data.stats.map((s) => stepsNote(s.setSteps, s.steps, s.scheduler)).filter(Boolean))].map((n) => <p className="hint" key={n} data-testid="steps-note">{n}.</p>)}
      <div className="charts">
        <figure className="chart" data-testid="chart-stages"><figcaption>Per stage (median): first run vs steady state</figcaption><StageBars rows={data.stages} /></figure>
        <figure className="chart" data-testid="chart-steps"><figcaption>Per step ({data.stats.some((x) => x.firstOnly) ? 'first run' : 'steady-state median'}): ● full UNet, ○ DeepCache cached</figcaption><StepLines rows={data.steps} labels={data.labels} /></figure>
        <figure className="chart" data-testid="chart-totals"><figcaption>Total per run: median, whiskers min … max{data.stats.some((x) => x.n < 2) ? ' (one run: no whiskers)' : ''}</figcaption><Totals stats={data.stats} /></figure>
      </div>
    </div>
  );
}
