import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { createClient } from './client';
import { connectEvents, createStudioStore, StoreContext, type StudioStore } from './store';
import { persistSettings } from './store/persist';
import './styles.css';

let store: StudioStore | undefined;
let dropped = false;
const client = createClient((connection) => {
  store?.setState({ connection });
  if (connection === 'closed') dropped = true;
  // after a reconnect (host restarted, laptop woke) the lists may have moved on
  if (connection === 'open' && dropped) void boot();
});
const studio = createStudioStore(client);
store = studio;
connectEvents(studio);
persistSettings(studio);

async function boot(): Promise<void> {
  const s = studio.getState();
  try {
    const [info, jobs] = await Promise.all([client.call('studio.info', {}), client.call('jobs.list', {})]);
    studio.setState({ info, engine: info.engine, connection: 'open' });
    await s.loadModels();
    await s.refreshHistory();
    const job = studio.getState().job;
    if (job && (job.status === 'running' || job.status === 'queued') && !jobs.some((j) => j.jobId === job.jobId)) {
      // the host restarted under us: that job is gone (its history entry says interrupted)
      studio.setState({ job: { ...job, status: 'interrupted', error: 'the studio host restarted during this job' } });
    }
    for (const j of jobs) s.onJobState(j); // a job started before a reload keeps reporting here
    void s.loadProviders();
  } catch (e) {
    s.notify(`could not reach the studio host: ${(e as Error).message}`);
  }
}
void boot();

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <StoreContext.Provider value={studio}>
      <App />
    </StoreContext.Provider>
  </StrictMode>,
);
