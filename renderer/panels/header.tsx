import { useStudio } from '../store';

export function Header() {
  const engine = useStudio((s) => s.engine);
  const connection = useStudio((s) => s.connection);
  const info = useStudio((s) => s.info);
  const setUi = useStudio((s) => s.setUi);
  const pill = connection !== 'open' && info?.mode !== 'electron' ? { cls: 'crashed', text: `host ${connection}` } : { cls: engine.state, text: `engine ${engine.state}` };
  return (
    <header className="header">
      <h1>Diffusion A/B Studio</h1>
      <span className="hint">{info ? `${info.mode === 'serve' ? 'serve mode' : 'desktop'} · workspace ${info.workspace}` : ''}</span>
      <span className="spacer" />
      <span className={`pill ${pill.cls}`} title={engine.message} data-testid="engine-state">{pill.text}{engine.restarts ? ` · ${engine.restarts} restart${engine.restarts > 1 ? 's' : ''}` : ''}</span>
      <button className="ghost" onClick={() => setUi({ aboutOpen: true })}>About</button>
    </header>
  );
}

export function Notices() {
  const notices = useStudio((s) => s.notices);
  const dismiss = useStudio((s) => s.dismiss);
  return (
    <div className="notices" aria-live="polite">
      {notices.map((n) => (
        <div key={n.id} className="notice" data-testid="notice"><span>{n.text}</span><button className="icon" onClick={() => dismiss(n.id)} aria-label="dismiss">×</button></div>
      ))}
    </div>
  );
}
