import { useMemo } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { useStudio } from '../store';
import { filterHistory } from '../store/history';
import './history.css';

function HistoryFilters({ shown }: { shown: number }) {
  const q = useStudio((s) => s.historyQuery);
  const set = useStudio((s) => s.setHistoryQuery);
  const total = useStudio((s) => s.history.length);
  const models = useStudio(useShallow((s) => [...new Set(s.history.map((h) => h.model))].sort()));
  return (
    <div className="history-filters">
      <input type="search" placeholder="Search…" title="Search prompts, variants' options and model names" value={q.text} onChange={(e) => set({ text: e.target.value })} aria-label="search history" data-testid="history-search" />
      <select value={q.model} onChange={(e) => set({ model: e.target.value })} aria-label="filter by model" data-testid="history-model">
        <option value="">all models</option>
        {models.map((m) => <option key={m} value={m}>{m}</option>)}
      </select>
      <select value={q.kind} onChange={(e) => set({ kind: e.target.value as typeof q.kind })} aria-label="filter by kind" data-testid="history-kind">
        <option value="">all kinds</option>
        <option value="compare">A/B comparisons</option>
        <option value="sweep">DeepCache sweeps</option>
      </select>
      <span className="hint" data-testid="history-count">{shown === total ? `${total} entries` : `${shown} of ${total}`}</span>
    </div>
  );
}

export function HistoryPanel() {
  const history = useStudio((s) => s.history);
  const query = useStudio((s) => s.historyQuery);
  const openEntry = useStudio((s) => s.openEntry);
  const loadEntry = useStudio((s) => s.loadEntry);
  const deleteEntry = useStudio((s) => s.deleteEntry);
  const current = useStudio((s) => s.current?.id);
  const workspace = useStudio((s) => s.info?.workspace);
  const loaded = useStudio((s) => s.loaded);
  const shown = useMemo(() => filterHistory(history, query), [history, query]);
  if (!history.length) return <div className="empty"><p>No runs yet. Every run is kept in {workspace ?? 'the workspace'}.</p></div>;
  return (
    <div className="history" data-testid="history">
      <HistoryFilters shown={shown.length} />
      <p className="hint">Kept in {workspace}</p>
      {loaded && <p className="loaded-note" data-testid="history-loaded">{loaded}</p>}
      {!shown.length && <p className="hint" data-testid="history-none">No entry matches: clear the search or the filters.</p>}
      <ul className="history-list">
        {shown.map((h) => (
          <li key={h.id} className={h.id === current ? 'current' : ''} data-testid="history-item">
            <button className="thumb" onClick={() => void openEntry(h.id)} title="open">
              {h.thumb ? <img src={h.thumb} alt="" /> : <span className="no-thumb">{h.kind}</span>}
            </button>
            <div className="meta">
              <b data-testid="history-title">{h.title}</b>
              <span className="prompt">“{h.prompt}”</span>
              <span className="hint">{new Date(h.createdAt).toLocaleString()} · {h.model} · <span className={`status ${h.status}`}>{h.status}</span></span>
              {h.speedup !== undefined && <span>B {h.speedup.toFixed(2)}× · SSIM {h.ssim?.toFixed(4) ?? '–'}</span>}
              {h.error && <span className="note error">{h.error}</span>}
            </div>
            <div className="actions">
              <button onClick={() => void openEntry(h.id)} data-testid="history-open">Open</button>
              <button onClick={() => void loadEntry(h.id)} title="prompt, parameters, init image and both variants into the editors" data-testid="history-load">Load into editors</button>
              <button onClick={() => void loadEntry(h.id, true)} title="load, and record this entry as the next run's parent" data-testid="history-fork">Fork</button>
              <button className="danger" onClick={() => { if (confirm('Delete this entry and its images?')) void deleteEntry(h.id); }}>Delete</button>
            </div>
          </li>
        ))}
      </ul>
    </div>
  );
}
