import { useEffect, useState } from 'react';
import { StepTrajectory } from '../../../app/studio';
import { useStudio } from '../../store';
import type { CompareView, CompareViewProps } from './types';
import './scrubber.css';

const W = 600, H = 90, PAD = 10;

/** B's drift from A per step: a line, B's full-UNet steps as filled dots, cached ones hollow, the cursor at `at`. */
function DriftChart({ t, at, onPick }: { t: StepTrajectory; at: number; onPick(step: number): void }) {
  const max = Math.max(1e-9, ...t.drift.map((d) => d ?? 0));
  const x = (i: number) => PAD + (t.steps > 1 ? (i / (t.steps - 1)) * (W - 2 * PAD) : 0);
  const y = (d: number) => H - PAD - (d / max) * (H - 2 * PAD);
  const full = new Set(t.fullSteps.B);
  const line = t.drift.map((d, i) => (d === null ? '' : `${x(i).toFixed(1)},${y(d).toFixed(1)}`)).filter(Boolean).join(' ');
  const pick = (e: React.MouseEvent<SVGSVGElement>): void => {
    const r = e.currentTarget.getBoundingClientRect();
    onPick(Math.round(((e.clientX - r.left) / r.width * W - PAD) / (W - 2 * PAD) * (t.steps - 1)));
  };
  return (
    <svg className="drift-chart" viewBox={`0 0 ${W} ${H}`} onClick={pick} data-testid="drift-chart" role="img" aria-label="latent drift of B from A per step">
      <line x1={x(at)} x2={x(at)} y1={0} y2={H} className="cursor" />
      <polyline points={line} className="drift" />
      <text x={W - PAD} y={PAD + 2} className="axis" textAnchor="end">max {max.toFixed(3)}</text>
      <text x={PAD} y={H - 2} className="axis">step 1</text>
      <text x={W - PAD} y={H - 2} className="axis" textAnchor="end">step {t.steps}</text>
      {t.drift.map((d, i) => d !== null && (
        <circle key={i} cx={x(i)} cy={y(d)} r={3.2} className={full.has(i) ? 'full' : 'cached'} data-testid={full.has(i) ? 'drift-full' : 'drift-cached'} />
      ))}
    </svg>
  );
}

const frameSrc = (png: string) => (png ? `data:image/png;base64,${png}` : undefined);

/** Both sides' latent previews at every step on one slider, with B's drift from A and the steps B ran in full. */
function Scrubber({ labelA, labelB }: CompareViewProps) {
  const client = useStudio((s) => s.client);
  const entry = useStudio((s) => s.current);
  const file = entry?.compare?.steps;
  const [t, setT] = useState<{ id: string; t?: StepTrajectory; error?: string }>();
  const [at, setAt] = useState<number | undefined>();
  useEffect(() => {
    if (!entry || !file) return;
    let live = true;
    client.call('history.file', { id: entry.id, file }).then(
      ({ dataUrl }) => live && setT({ id: entry.id, t: StepTrajectory.parse(JSON.parse(atob(dataUrl.slice(dataUrl.indexOf(',') + 1)))) }),
      (e: Error) => live && setT({ id: entry.id, error: e.message }),
    );
    return () => {
      live = false;
    };
  }, [client, entry, file]);
  if (!file) return <div className="empty"><p>This entry has no per-step record (it ran without previews, or before the scrubber existed). Run it again to scrub its steps.</p></div>;
  if (t?.error) return <p className="note error">{t.error}</p>;
  if (!t?.t || t.id !== entry!.id) return <p className="hint">loading the steps…</p>;
  const tr = t.t, step = Math.min(at ?? tr.steps - 1, tr.steps - 1), drift = tr.drift[step];
  const fullB = tr.fullSteps.B.includes(step);
  return (
    <div className="scrubber" data-testid="scrubber">
      <div className="panes two">
        {(['A', 'B'] as const).map((side) => (
          <figure key={side} className="scrub-frame">
            {frameSrc(tr.frames[side][step]!) ? <img src={frameSrc(tr.frames[side][step]!)} alt={`${side} at step ${step + 1}`} data-testid={`scrub-${side}`} /> : <span className="hint">no preview</span>}
            <figcaption className="pane-label">{side === 'A' ? labelA : labelB} · step {step + 1}</figcaption>
          </figure>
        ))}
      </div>
      <div className="scrub-controls">
        <input type="range" min={0} max={tr.steps - 1} step={1} value={step} onChange={(e) => setAt(Number(e.target.value))} aria-label="step" data-testid="scrub-step" />
        <p data-testid="scrub-readout">
          step <b>{step + 1}</b>/{tr.steps} · drift ‖B−A‖/‖A‖ <b data-testid="scrub-drift">{drift === null || drift === undefined ? '–' : drift.toFixed(4)}</b> · B {fullB ? <b className="full-step">ran the full UNet</b> : <span>used the cache</span>}
        </p>
        <DriftChart t={tr} at={step} onPick={(s) => setAt(Math.max(0, Math.min(tr.steps - 1, s)))} />
        <p className="hint">Latent previews. Filled dots: steps B ran in full ({tr.fullSteps.B.length} of {tr.steps}); hollow: cached.{tr.note ? ` ${tr.note}.` : ''}</p>
      </div>
    </div>
  );
}

export const scrubber: CompareView = { id: 'steps', label: 'Steps', hint: 'both sides at every step, and where B leaves A', Component: Scrubber };
