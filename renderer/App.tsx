import { useStudio } from './store';
import { About } from './panels/about';
import { ControlNetPanel } from './panels/controlnet-panel';
import { ExportButton } from './panels/export-button';
import { Header, Notices } from './panels/header';
import { InputsPanel } from './panels/inputs-panel';
import { ModelPanel } from './panels/model-panel';
import { RunPanel } from './panels/run-panel';
import { VariantsPanel } from './panels/variants-panel';
import { TABS } from './views/tabs';

const KIND_NAME: Record<string, string> = { compare: 'comparison', sweep: 'sweep', grid: 'grid', matrix: 'matrix', blind: 'blind session' };

function Center() {
  const tab = useStudio((s) => s.tab);
  const setTab = useStudio((s) => s.setTab);
  const count = useStudio((s) => s.history.length);
  const current = useStudio((s) => s.origin ?? s.current);
  const Body = (TABS.find((t) => t.id === tab) ?? TABS[0]!).Component;
  return (
    <section className="center">
      <nav className="tabs" role="tablist">
        {TABS.map((t) => (
          <button key={t.id} role="tab" aria-selected={tab === t.id} className={tab === t.id ? 'active' : ''} onClick={() => setTab(t.id)} data-testid={`tab-${t.id}`}>
            {t.short ? <><span className="wide-only">{t.label}</span><span className="narrow-only">{t.short}</span></> : t.label}
            {t.id === 'history' && count ? ` (${count})` : ''}
          </button>
        ))}
        <span className="spacer" />
        {current && (
          <span className="current-entry" title={current.id}>
            <span className="when">{KIND_NAME[current.kind]} of {new Date(current.createdAt).toLocaleTimeString()}</span> <ExportButton id={current.id} />
          </span>
        )}
      </nav>
      <div className="tab-body"><Body /></div>
    </section>
  );
}

export function App() {
  const aboutOpen = useStudio((s) => s.aboutOpen);
  return (
    <div className="app">
      <Header />
      <Notices />
      <main className="main">
        <aside className="left">
          <div className="left-scroll">
            <ModelPanel />
            <InputsPanel />
            <ControlNetPanel />
          </div>
          {/* Run stays in view at any window height; the inputs above scroll */}
          <div className="left-foot"><RunPanel /></div>
        </aside>
        <Center />
        <aside className="right"><VariantsPanel /></aside>
      </main>
      {aboutOpen && <About />}
    </div>
  );
}
