import { useStudio } from './store';
import type { Tab } from './store/ui';
import { About } from './panels/about';
import { ComparePanel } from './panels/compare-panel';
import { ExportButton } from './panels/export-button';
import { Header, Notices } from './panels/header';
import { BlindPanel } from './panels/blind-panel';
import { HistoryPanel } from './panels/history-panel';
import { InputsPanel } from './panels/inputs-panel';
import { LatencyPanel } from './panels/latency-panel';
import { ModelPanel } from './panels/model-panel';
import { RunPanel } from './panels/run-panel';
import { SweepPanel } from './panels/sweep-panel';
import { VariantsPanel } from './panels/variants-panel';

/** `short`: the label where the window is narrow. */
const TABS: { id: Tab; label: string; short?: string }[] = [
  { id: 'compare', label: 'Compare' },
  { id: 'latency', label: 'Latency' },
  { id: 'sweep', label: 'DeepCache sweep', short: 'Sweep' },
  { id: 'blind', label: 'Blind A/B', short: 'Blind' },
  { id: 'history', label: 'History' },
];

function Center() {
  const tab = useStudio((s) => s.tab);
  const setTab = useStudio((s) => s.setTab);
  const count = useStudio((s) => s.history.length);
  const current = useStudio((s) => s.current);
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
            <span className="when">{current.kind === 'sweep' ? 'sweep' : current.kind === 'blind' ? 'blind session' : 'comparison'} of {new Date(current.createdAt).toLocaleTimeString()}</span> <ExportButton id={current.id} />
          </span>
        )}
      </nav>
      <div className="tab-body">
        {tab === 'compare' && <ComparePanel />}
        {tab === 'latency' && <LatencyPanel />}
        {tab === 'sweep' && <SweepPanel />}
        {tab === 'blind' && <BlindPanel />}
        {tab === 'history' && <HistoryPanel />}
      </div>
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
          <ModelPanel />
          <InputsPanel />
          <RunPanel />
        </aside>
        <Center />
        <aside className="right"><VariantsPanel /></aside>
      </main>
      {aboutOpen && <About />}
    </div>
  );
}
