import { useEffect, useRef } from 'react';
import { useStudio } from '../store';
import type { ProgressState } from '../store/progress';
import { variantProblem } from '../store/variants';
import { shownStep } from '../../app/run-stats';
import { Section, Slider, Toggle } from './controls';

/** A progress bar fed by the transient progress store: it writes to the DOM, React never re-renders. */
function ProgressBar({ side, label, done }: { side: string; label: string; done?: string }) {
  const progress = useStudio((s) => s.progress);
  const bar = useRef<HTMLDivElement>(null);
  const text = useRef<HTMLSpanElement>(null);
  useEffect(() => {
    const paint = (st: ProgressState): void => {
      const p = st.sides[side];
      bar.current!.style.width = `${((p?.fraction ?? 0) * 100).toFixed(1)}%`;
      const shown = p && shownStep(p.step, p.steps, st.steps);
      text.current!.textContent = done ?? (p && shown ? `${p.stage === 'denoising' ? `step ${shown.step}/${shown.of}` : p.stage}${st.repeats > 1 && side !== 'job' ? ` · run ${p.repeat + 1}/${st.repeats}` : ''}` : 'idle');
      text.current!.title = p && shown && shown.of !== p.steps ? `${shown.of} steps make ${p.steps} UNet calls with this scheduler (PNDM takes its first step twice, a warm-up)` : '';
      if (done) bar.current!.style.width = '100%';
    };
    paint(progress.getState());
    return progress.subscribe(paint);
  }, [progress, side, done]);
  return (
    <div className="progress" data-testid={`progress-${side}`}>
      <div className="progress-head"><b className={`side-${side.toLowerCase()}`}>{label}</b><span ref={text} /></div>
      <div className="progress-track"><div className={`progress-fill side-${side.toLowerCase()}`} ref={bar} /></div>
    </div>
  );
}

/** The latest latent preview of one side, drawn straight into a canvas. */
function LivePreview({ side }: { side: string }) {
  const progress = useStudio((s) => s.progress);
  const canvas = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    let last: unknown;
    const paint = (st: ProgressState): void => {
      const p = st.previews[side];
      const c = canvas.current!;
      if (p === last) return;
      last = p;
      if (!p) return c.getContext('2d')!.clearRect(0, 0, c.width, c.height);
      c.width = p.width;
      c.height = p.height;
      const rgba = new Uint8ClampedArray(p.width * p.height * 4);
      for (let i = 0; i < p.width * p.height; i++) {
        rgba.set(p.rgb.subarray(i * 3, i * 3 + 3), i * 4);
        rgba[i * 4 + 3] = 255;
      }
      c.getContext('2d')!.putImageData(new ImageData(rgba, p.width, p.height), 0, 0);
    };
    paint(progress.getState());
    return progress.subscribe(paint);
  }, [progress, side]);
  return <canvas className="live-preview" ref={canvas} title="live step preview (latent approximation)" data-testid={`preview-${side}`} />;
}

export function RunPanel() {
  const job = useStudio((s) => s.job);
  const repeats = useStudio((s) => s.inputs.repeats);
  const setInputs = useStudio((s) => s.setInputs);
  const runCompare = useStudio((s) => s.runCompare);
  const cancel = useStudio((s) => s.cancel);
  const labelA = useStudio((s) => s.a.label);
  const labelB = useStudio((s) => s.b.label);
  const invalid = useStudio((s) => variantProblem(s.a, s.sharedLoras) ?? variantProblem(s.b, s.sharedLoras));
  const model = useStudio((s) => s.modelDir);
  const reuseA = useStudio((s) => s.inputs.reuseA);
  const forkOf = useStudio((s) => s.forkOf);
  const clearFork = useStudio((s) => s.clearFork);
  const busy = job?.status === 'running' || job?.status === 'queued';
  const current = useStudio((s) => s.current);
  // after the run: how long it took, not the last stage it passed ("vae-decoder · run 3/3")
  const finished = job?.status === 'done' && current?.id === job.jobId ? current : undefined;
  const took = finished?.finishedAt ? ` in ${((Date.parse(finished.finishedAt) - Date.parse(finished.createdAt)) / 1000).toFixed(1)} s` : '';
  const sideDone = (side: string): string | undefined => {
    const runs = finished?.compare?.runs.filter((r) => r.side === side);
    if (!runs?.length) return finished ? 'done' : undefined;
    const s = runs.reduce((t, r) => t + r.result.timings.totalMs + r.result.prepareMs, 0) / 1000;
    return `done · ${runs.length} run${runs.length > 1 ? 's' : ''} in ${s.toFixed(1)} s`;
  };
  return (
    <Section title="Run">
      <Slider label="Repeats per variant" value={repeats} min={1} max={10} step={1} onChange={(r) => setInputs({ repeats: r })} format={(r) => `${r}×`} />
      <Toggle label="Reuse A if unchanged" checked={reuseA} onChange={(v) => setInputs({ reuseA: v })} testId="reuse-a" />
      {forkOf && <p className="run-note" data-testid="fork-of">Fork of “{forkOf.title}”<button className="ghost" onClick={clearFork} aria-label="not a fork">×</button></p>}
      <div className="row">
        <button className="primary" disabled={busy || !!invalid || !model} onClick={() => void runCompare()} data-testid="run">Run A / B</button>
        <button disabled={!busy} onClick={() => void cancel()} data-testid="cancel">Cancel</button>
      </div>
      {job && (job.kind === 'compare' || job.kind === 'blind' ? (
        <div className="run-progress">
          {/* a blind test shows no step previews: they would tell which variant made which image */}
          <div className="progress-row">{job.kind === 'compare' && <LivePreview side="A" />}<ProgressBar side="A" label={labelA} done={sideDone('A')} /></div>
          <div className="progress-row">{job.kind === 'compare' && <LivePreview side="B" />}<ProgressBar side="B" label={labelB} done={sideDone('B')} /></div>
          {job.kind === 'blind' && <p className="hint" data-testid="blind-no-previews">No step previews in a blind test: they would tell the sides apart.</p>}
        </div>
      ) : (
        <div className="run-progress"><div className="progress-row"><LivePreview side="job" /><ProgressBar side="job" label={job.kind} done={finished ? 'done' : undefined} /></div></div>
      ))}
      {job && (
        <p className={`job-status ${job.status}`} data-job={job.jobId}>
          <span data-testid="job-status">
            {job.status === 'running' ? `running · ${job.done}/${job.total} runs` : job.status}
            {job.error && job.status !== 'cancelled' ? `: ${job.error}` : ''}
          </span>
          {finished && <span data-testid="job-took">{took}</span>}
        </p>
      )}
    </Section>
  );
}
