import { useStudio } from '../store';
import { INIT_IMAGE } from '../store/runs';
import { COMPARE_VIEWS } from '../views/compare/registry';
import { ImageSize, Viewport } from '../views/compare/viewport';
import { useMetrics } from '../workers/use-metrics';
import { ranLabel } from '../../app/run-stats';
import { PixelInspector } from './pixel-inspector';
import { Verdict } from './verdict';

const STATUS_TEXT: Record<string, string> = {
  queued: 'This comparison is queued', running: 'This comparison is running', failed: 'This comparison failed',
  cancelled: 'This comparison was cancelled', interrupted: 'This comparison was interrupted',
};

export function ComparePanel() {
  const current = useStudio((s) => s.current);
  const images = useStudio((s) => s.images);
  const viewId = useStudio((s) => s.view);
  const setView = useStudio((s) => s.setView);
  const zoom = useStudio((s) => s.zoom);
  const setZoom = useStudio((s) => s.setZoom);
  const resetView = useStudio((s) => s.resetView);
  const gain = useStudio((s) => s.gain);
  const colormap = useStudio((s) => s.colormap);
  const c = current?.compare;
  const a = c?.images.a ? images[c.images.a] : undefined;
  const b = c?.images.b ? images[c.images.b] : undefined;
  const metrics = useMetrics(a, b, gain, colormap);
  const view = COMPARE_VIEWS.find((v) => v.id === viewId) ?? COMPARE_VIEWS[0]!;
  const init = current?.inputs?.initImage ? images[INIT_IMAGE] : undefined;
  const runA = c?.runs.find((r) => r.side === 'A')?.result, runB = c?.runs.find((r) => r.side === 'B')?.result;
  const labelA = c ? `A · ${ranLabel(c.a.label, runA)}` : '', labelB = c ? `B · ${ranLabel(c.b.label, runB)}` : '';
  const size = runA ? { width: runA.params.width, height: runA.params.height } : metrics ?? { width: 1, height: 1 };
  return (
    <ImageSize.Provider value={size}>
      <div className="compare">
        <div className="toolbar">
          <div className="seg" role="tablist" aria-label="compare view">
            {COMPARE_VIEWS.map((v) => (
              <button key={v.id} role="tab" aria-selected={v.id === view.id} className={v.id === view.id ? 'active' : ''} onClick={() => setView(v.id)} title={v.hint} data-testid={`view-${v.id}`}>{v.label}</button>
            ))}
          </div>
          <div className="zoom">
            {/* about the view's centre: the centre (image coordinates) stays */}
            <button className="icon" onClick={() => setZoom(zoom / 1.5)} aria-label="zoom out">−</button>
            <span data-testid="zoom-level">{Math.round(zoom * 100)}%</span>
            <button className="icon" onClick={() => setZoom(zoom * 1.5)} aria-label="zoom in">+</button>
            <button className="ghost" onClick={resetView}>fit</button>
          </div>
        </div>
        {c && (c.runs.length > 0 || (a && b)) && <Verdict runs={c.runs} metrics={metrics} />}
        {a && b ? (
          <>
            <div className="view-area" data-testid={`compare-${view.id}`}>
              <view.Component a={a} b={b} labelA={labelA} labelB={labelB} metrics={metrics} />
            </div>
            <PixelInspector a={a} b={b} />
          </>
        ) : current?.kind === 'compare' && current.status !== 'done' ? (
          <div className="view-area partial">
            <p className="note error">{STATUS_TEXT[current.status] ?? current.status}{current.error ? `: ${current.error}` : '.'}</p>
            {/* what finished before the failure is still worth a look */}
            {a && <div className="panes one"><Viewport label={`${labelA} (B did not finish)`}><img className="fit" src={a} alt="A" draggable={false} /></Viewport></div>}
          </div>
        ) : (
          <div className="empty">
            <p>Set a prompt, make B differ from A (right), and press <b>Run A / B</b>. Both images appear here, large, in five synchronised views.</p>
          </div>
        )}
        {c && (
          <div className={`captions${init ? ' with-init' : ''}`}>
            {init && (
              <figure className="init-thumb" data-testid="entry-init-image">
                <img src={init} alt="init image" />
                <figcaption>init image · strength {String(runA?.params.strength ?? current?.params.strength ?? '')}</figcaption>
              </figure>
            )}
            {c.baseline && <p className={`baseline-note${c.baseline.reusedFrom ? ' reused' : ''}`} data-testid="baseline-note">{c.baseline.message}</p>}
            <p><b className="side-a">A</b> {runA ? `${runA.summary} · ran on ${runA.providerLabel ?? runA.provider}${runA.fellBack ? ` (fell back from ${c.a.provider})` : ''}` : c.a.label}</p>
            <p><b className="side-b">B</b> {runB ? `${runB.summary} · ran on ${runB.providerLabel ?? runB.provider}${runB.fellBack ? ` (fell back from ${c.b.provider})` : ''}` : c.b.label}</p>
          </div>
        )}
      </div>
    </ImageSize.Provider>
  );
}
