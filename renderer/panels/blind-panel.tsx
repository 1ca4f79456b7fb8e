import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { blindRows, blindStats, toCsv, type BlindVote } from '../../app/blind';
import type { HistoryManifest } from '../../app/studio';
import { useStudio } from '../store';
import './blind.css';

const KEYS: Record<string, BlindVote> = { '1': 'left', ArrowLeft: 'left', '2': 'right', ArrowRight: 'right', s: 'same', S: 'same', c: 'cant-tell', C: 'cant-tell' };
const VOTES: { vote: BlindVote; label: string; key: string }[] = [
  { vote: 'left', label: 'Left better', key: '1 ←' }, { vote: 'same', label: 'Same', key: 'S' },
  { vote: 'cant-tell', label: "Can't tell", key: 'C' }, { vote: 'right', label: 'Right better', key: '2 →' },
];
const pct = (x: number) => `${(x * 100).toFixed(1)} %`;

function download(name: string, type: string, text: string): void {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([text], { type }));
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

/** Prompts (one a line) × seeds on the editors' A and B, the inputs' size, steps and guidance. */
function NewSession() {
  const prompt = useStudio((s) => s.inputs.prompt);
  const runBlind = useStudio((s) => s.runBlind);
  const busy = useStudio((s) => s.job?.status === 'running' || s.job?.status === 'queued');
  const [prompts, setPrompts] = useState(prompt);
  const [seeds, setSeeds] = useState('1, 2');
  const list = prompts.split('\n').map((p) => p.trim()).filter(Boolean);
  const seedList = seeds.split(/[\s,]+/).filter(Boolean).map(Number);
  const problem = !list.length ? 'give at least one prompt'
    : seedList.some((s) => !Number.isInteger(s) || s < 0) ? `seeds must be whole numbers ≥ 0 (got "${seeds}")`
    : !seedList.length ? 'give at least one seed'
    : list.length * seedList.length > 50 ? `${list.length * seedList.length} pairs: at most 50` : undefined;
  return (
    <details className="blind-setup" open data-testid="blind-setup">
      <summary>New blind session</summary>
      <p className="hint">Each prompt × seed runs on A and B (the editors on the right). Sides are shuffled per pair and hidden until the end.</p>
      <label className="field"><span className="field-label">Prompts (one a line)</span>
        <textarea rows={3} value={prompts} onChange={(e) => setPrompts(e.target.value)} data-testid="blind-prompts" /></label>
      <label className="field"><span className="field-label">Seeds</span>
        <input value={seeds} onChange={(e) => setSeeds(e.target.value)} data-testid="blind-seeds" /></label>
      {problem && <p className="note error" data-testid="blind-problem">{problem}</p>}
      <button className="primary" disabled={!!problem || busy} onClick={() => void runBlind(list, seedList)} data-testid="blind-start">
        Make {problem ? '' : `${list.length * seedList.length} `}pairs
      </button>
    </details>
  );
}

function usePairImages(m: HistoryManifest, index: number): [string?, string?] {
  const client = useStudio((s) => s.client);
  const [urls, setUrls] = useState<Record<string, string>>({});
  const asked = useRef(new Set<string>());
  const p = m.blind!.pairs[index];
  useEffect(() => {
    for (const f of p ? [p.images.a, p.images.b] : []) {
      if (asked.current.has(f)) continue;
      asked.current.add(f);
      void client.call('history.file', { id: m.id, file: f }).then(({ dataUrl }) => setUrls((u) => ({ ...u, [f]: dataUrl })), () => asked.current.delete(f));
    }
  }, [client, m.id, p]);
  if (!p) return [];
  const [l, r] = p.left === 'A' ? [p.images.a, p.images.b] : [p.images.b, p.images.a];
  return [urls[l], urls[r]];
}

function Voting({ m, index }: { m: HistoryManifest; index: number }) {
  const vote = useStudio((s) => s.voteBlind);
  const [left, right] = usePairImages(m, index);
  const shownAt = useRef(0);
  const ready = !!left && !!right;
  useEffect(() => {
    if (ready) shownAt.current = performance.now();
  }, [ready, index]);
  const cast = useCallback((v: BlindVote) => {
    if (ready) void vote(index, v, performance.now() - shownAt.current);
  }, [ready, vote, index]);
  useEffect(() => {
    const onKey = (e: KeyboardEvent): void => {
      if (e.target instanceof HTMLInputElement || e.target instanceof HTMLTextAreaElement) return;
      const v = KEYS[e.key];
      if (v) {
        e.preventDefault();
        cast(v);
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [cast]);
  const pairs = m.blind!.pairs, p = pairs[index]!;
  const voted = pairs.filter((x) => x.vote).length;
  return (
    <div className="blind-vote" data-testid="blind-vote">
      <div className="blind-progress">
        <span data-testid="blind-progress">Pair {index + 1} of {pairs.length}</span>
        <div className="progress-track"><div className="progress-fill" style={{ width: `${(voted / pairs.length) * 100}%` }} /></div>
        <span className="hint">“{p.prompt}” · seed {p.seed}</span>
      </div>
      <div className="panes two">
        {[left, right].map((src, i) => (
          <figure key={i} className="blind-frame">
            {src ? <img src={src} alt={i ? 'right' : 'left'} data-testid={i ? 'blind-right' : 'blind-left'} /> : <span className="hint">loading…</span>}
            <figcaption className="pane-label">{i ? 'Right' : 'Left'}</figcaption>
          </figure>
        ))}
      </div>
      <div className="blind-buttons">
        {VOTES.map((v) => (
          <button key={v.vote} disabled={!ready} onClick={() => cast(v.vote)} data-testid={`vote-${v.vote}`}>{v.label} <kbd>{v.key}</kbd></button>
        ))}
      </div>
    </div>
  );
}

function Results({ m }: { m: HistoryManifest }) {
  const threshold = useStudio((s) => s.ssimThreshold);
  const s = m.blind!;
  const st = useMemo(() => blindStats(s.pairs, threshold), [s.pairs, threshold]);
  const rows = blindRows(s);
  return (
    <div className="blind-results" data-testid="blind-results">
      <p className="blind-headline" data-testid="blind-rate">
        {st.bRate === undefined ? 'No pair was decided (all "same" or "can\'t tell").'
          : <>B ({s.b.label}) preferred in <b>{pct(st.bRate)}</b> of {st.a + st.b} decided pairs (95 % Wilson interval {pct(st.ci![0])} – {pct(st.ci![1])})</>}
      </p>
      <p data-testid="blind-counts">A better {st.a} · B better {st.b} · same {st.same} · can't tell {st.cantTell} · {st.voted}/{st.total} voted</p>
      {st.agreement !== undefined && (
        <p data-testid="blind-agreement">Agreement with the metrics: <b>{pct(st.agreement)}</b> of votes (“same” or “can't tell” exactly where SSIM ≥ {threshold})</p>
      )}
      <div className="row">
        <button onClick={() => download(`blind-${m.id}.csv`, 'text/csv', toCsv(rows))} data-testid="blind-csv">Export CSV</button>
        <button onClick={() => download(`blind-${m.id}.json`, 'application/json', JSON.stringify({ id: m.id, model: m.model, params: m.params, a: s.a, b: s.b, stats: st, pairs: rows }, null, 2))} data-testid="blind-json">Export JSON</button>
      </div>
      <table className="blind-table">
        <thead><tr><th>#</th><th>prompt</th><th>seed</th><th>left was</th><th>preferred</th><th>time</th><th>SSIM</th></tr></thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.pair}><td>{r.pair}</td><td>{r.prompt}</td><td>{r.seed}</td><td>{r.shown_left}</td><td>{r.preferred}</td><td>{r.time_to_vote_ms === '' ? '' : `${(Number(r.time_to_vote_ms) / 1000).toFixed(1)} s`}</td><td>{Number(r.ssim).toFixed(4)}</td></tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function BlindPanel() {
  const m = useStudio((s) => (s.current?.kind === 'blind' ? s.current : undefined));
  const next = m?.blind?.pairs.findIndex((p) => !p.vote) ?? -1;
  return (
    <div className="blind" data-testid="blind">
      {!m && <NewSession />}
      {m && m.status !== 'done' && <p className="hint" data-testid="blind-status">This session is {m.status}: {m.blind!.pairs.length} pairs made so far.{m.error ? ` ${m.error}` : ''}</p>}
      {m && m.status === 'done' && (next >= 0 ? <Voting m={m} index={next} /> : <Results m={m} />)}
      {m && m.status === 'done' && next < 0 && <NewSession />}
    </div>
  );
}
