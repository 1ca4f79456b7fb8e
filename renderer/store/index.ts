import { createStore } from 'zustand/vanilla';
import type { StudioClient } from '../../app/channels';
import { useStore } from 'zustand';
import { createContext, useContext } from 'react';
import { controlSlice } from './control';
import { historySlice } from './history';
import { inputsSlice } from './inputs';
import { maskSlice } from './mask';
import { modelSlice } from './model';
import { applyPreview, applyProgress, createProgressStore } from './progress';
import { runsSlice } from './runs';
import type { StudioState, StudioStore } from './state';
import { uiSlice } from './ui';
import { variantsSlice } from './variants';

export type { Base, StudioState, StudioStore } from './state';

/** One store from typed slices (zustand's slices pattern); the client is injected, tests pass a fake. */
export function createStudioStore(client: StudioClient): StudioStore {
  return createStore<StudioState>()((...a) => ({
    client,
    progress: createProgressStore(),
    ...modelSlice(...a),
    ...inputsSlice(...a),
    ...maskSlice(...a),
    ...controlSlice(...a),
    ...variantsSlice(...a),
    ...runsSlice(...a),
    ...historySlice(...a),
    ...uiSlice(...a),
  }));
}

/** Host events into the store: step-rate ones only into the transient progress store. */
export function connectEvents(store: StudioStore): () => void {
  const { client, progress } = store.getState();
  let refresh: ReturnType<typeof setTimeout> | undefined;
  const offs = [
    client.listen('job.progress', (p) => applyProgress(progress, p)),
    client.listen('job.preview', (p) => applyPreview(progress, p)),
    client.listen('job.state', (info) => store.getState().onJobState(info)),
    client.listen('engine.state', (engine) => {
      const was = store.getState().engine;
      store.setState({ engine });
      if (engine.state === 'starting' && engine.message && engine.message !== was.message) store.getState().notify(`Engine host ${engine.message}`);
    }),
    client.listen('history.changed', ({ id, removed }) => {
      clearTimeout(refresh);
      refresh = setTimeout(() => void store.getState().refreshHistory(), 150);
      const s = store.getState();
      const shown = s.origin ?? s.current; // entries that fill in as they run
      if (!removed && shown?.id === id && shown.kind !== 'compare') void s.openEntry(id, false).catch(() => undefined);
    }),
  ];
  return () => offs.forEach((off) => off());
}

export const StoreContext = createContext<StudioStore | null>(null);

export function useStudio<T>(selector: (s: StudioState) => T): T {
  const store = useContext(StoreContext);
  if (!store) throw new Error('useStudio outside <StoreContext.Provider>');
  return useStore(store, selector);
}

export function useStudioStore(): StudioStore {
  const store = useContext(StoreContext);
  if (!store) throw new Error('useStudioStore outside <StoreContext.Provider>');
  return store;
}
