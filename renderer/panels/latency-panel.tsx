import { useMemo } from 'react';
import { sideStats, speedup, stageRows, stepsNote } from '../../app/run-stats';
import { useStudio } from '../store';
import { stepRows } from '../charts/chart-data';
import { StageBars } from '../charts/stage-bars';
import { StepLines } from '../charts/step-lines';
import { Totals } from '../charts/totals';

const ms = (v: number | undefined): string => (v === undefined || !Number.isFinite(v) ? '–' : `${v.toFixed(v < 10 ? 2 : 1)} ms`);

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
  return (
    <div className="latency" data-testid="latency">
      <p className="headline" data-testid="speedup">
        {sp ? <>B is <b className={sp >= 1 ? 'good' : 'bad'}>{sp.toFixed(2)}×</b> {sp >= 1 ? 'faster' : 'slower'} than A</> : 'B has not run yet'}
        <span className="hint"> (median total, steady state)</span>
      </p>
      <table className="stats">
        <thead><tr><th /><th>median</th><th>min … max</th><th>IQR</th><th>first run</th><th>runs</th><th>steps · full UNet calls</th><th>provider</th></tr></thead>
        <tbody>
          {data.stats.map((s) => (
            <tr key={s.side}>
              <th className={`side-${s.side.toLowerCase()}`}>{s.side} · {s.label}</th>
              <td>{ms(s.median)}</td><td>{ms(s.min)} … {ms(s.max)}</td><td>{ms(s.q3 - s.q1)}</td><td>{ms(s.firstMs)}</td><td>{s.n}</td>
              <td title={stepsNote(s.setSteps, s.steps, s.scheduler)}>{s.setSteps} · {s.fullSteps}/{s.steps}</td><td>{s.provider}{s.fellBack ? ' (fell back)' : ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {[...new Set(data.stats.map((s) => stepsNote(s.setSteps, s.steps, s.scheduler)).filter(Boolean))].map((n) => <p className="hint" key={n} data-testid="steps-note">{n}.</p>)}
      <div className="charts">
        <figure className="chart" data-testid="chart-stages"><figcaption>Per stage (median): first run vs steady state</figcaption><StageBars rows={data.stages} /></figure>
        <figure className="chart" data-testid="chart-steps"><figcaption>Per step (steady-state median): ● full UNet, ○ DeepCache cached</figcaption><StepLines rows={data.steps} labels={data.labels} /></figure>
        <figure className="chart" data-testid="chart-totals"><figcaption>Total per run: median, whiskers min … max</figcaption><Totals stats={data.stats} /></figure>
      </div>
    </div>
  );
}
