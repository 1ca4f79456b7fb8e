import { useStudio } from '../store';

export function HistoryPanel() {
  const history = useStudio((s) => s.history);
  const openEntry = useStudio((s) => s.openEntry);
  const deleteEntry = useStudio((s) => s.deleteEntry);
  const current = useStudio((s) => s.current?.id);
  const workspace = useStudio((s) => s.info?.workspace);
  if (!history.length) return <div className="empty"><p>No runs yet. Every run is kept in {workspace ?? 'the workspace'}.</p></div>;
  return (
    <div className="history" data-testid="history">
      <p className="hint">{history.length} entries in {workspace}</p>
      <ul className="history-list">
        {history.map((h) => (
          <li key={h.id} className={h.id === current ? 'current' : ''} data-testid="history-item">
            <button className="thumb" onClick={() => void openEntry(h.id)} title="open">
              {h.thumb ? <img src={h.thumb} alt="" /> : <span className="no-thumb">{h.kind}</span>}
            </button>
            <div className="meta">
              <b>{h.title}</b>
              <span className="prompt">“{h.prompt}”</span>
              <span className="hint">{new Date(h.createdAt).toLocaleString()} · {h.model} · <span className={`status ${h.status}`}>{h.status}</span></span>
              {h.speedup !== undefined && <span>B {h.speedup.toFixed(2)}× · SSIM {h.ssim?.toFixed(4) ?? '–'}</span>}
              {h.error && <span className="note error">{h.error}</span>}
            </div>
            <div className="actions">
              <button onClick={() => void openEntry(h.id)} data-testid="history-open">Open</button>
              <button className="danger" onClick={() => { if (confirm('Delete this entry and its images?')) void deleteEntry(h.id); }}>Delete</button>
            </div>
          </li>
        ))}
      </ul>
    </div>
  );
}
