import { gridTables, latencyText, metricText, speedupText, type GridSection } from '../../app/grid';

/**
 * A grid's or matrix's cells as tables (app/grid.ts lays them out, as for the PNG and the report):
 * each cell's image, time with its spread, speed-up and SSIM/PSNR against the reference, or why
 * it did not run. Clicking an image compares it with the reference; "→ B" puts its variant on B.
 */
export function CellTable({ g, images, onOpen, onApply }: { g: GridSection; images: Record<string, string>; onOpen(i: number): void; onApply(i: number): void }) {
  const ref = g.cells[g.reference];
  return (
    <div className="cell-tables">
      {gridTables(g).map((t) => (
        <div key={t.title} className="cell-table-wrap">
          {t.title && <h4>{t.title}</h4>}
          <table className="cell-table" data-testid="cell-table">
            <thead>
              <tr><th className="corner">{t.rowLabel ? `${t.rowLabel} ↓ · ${t.colLabel} →` : `${t.colLabel} →`}</th>{t.cols.map((c) => <th key={c}>{c}</th>)}</tr>
            </thead>
            <tbody>
              {t.rows.map((r) => (
                <tr key={r.label}>
                  <th>{r.label}</th>
                  {r.cells.map((i, k) => {
                    const c = i === undefined ? undefined : g.cells[i];
                    if (!c || i === undefined) return <td key={k} className="none" />;
                    return (
                      <td key={k} className={`cell ${c.status}${i === g.reference ? ' reference' : ''}`} data-testid={`cell-${i}`} title={c.label}>
                        {c.image && images[c.image] ? (
                          <button className="thumb" onClick={() => onOpen(i)} title={`compare with the reference: ${c.label}`} data-testid={`cell-open-${i}`}><img src={images[c.image]} alt={c.label} /></button>
                        ) : c.status === 'pending' ? <div className="no-image">waiting…</div> : null}
                        <div className="figures">
                          {c.status === 'ran' ? (
                            <>
                              <span>{latencyText(c)}</span>
                              {i === g.reference ? <span><b>reference</b></span> : <span>{[speedupText(c, ref), metricText(c)].filter(Boolean).join(' · ')}</span>}
                              {c.variant && <button className="ghost mini" onClick={() => onApply(i)} title="put this cell's acceleration options on variant B (the parameters stay the inputs')" data-testid={`cell-apply-${i}`}>→ B</button>}
                            </>
                          ) : c.status !== 'pending' && <span className={`reason ${c.status === 'failed' ? 'bad' : 'warn'}`} title={c.reason} data-testid={`cell-reason-${i}`}><b>{c.status}</b>: {c.reason?.replace(/^variant "[^"]*": /, '')}</span>}
                        </div>
                      </td>
                    );
                  })}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ))}
    </div>
  );
}
