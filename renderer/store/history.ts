import type { StateCreator } from 'zustand';
import type { HistorySummary } from '../../app/studio';
import type { StudioState } from './state';

export interface HistorySlice {
  history: HistorySummary[];
  refreshHistory(): Promise<void>;
  deleteEntry(id: string): Promise<void>;
  exportEntry(id: string): Promise<{ html: string; path: string } | undefined>;
}

export const historySlice: StateCreator<StudioState, [], [], HistorySlice> = (set, get) => ({
  history: [],
  refreshHistory: async () => {
    set({ history: await get().client.call('history.list', {}) });
  },
  deleteEntry: async (id) => {
    try {
      await get().client.call('history.delete', { id });
      if (get().current?.id === id) set({ current: undefined, images: {} });
      await get().refreshHistory();
    } catch (e) {
      get().notify((e as Error).message);
    }
  },
  exportEntry: async (id) => {
    try {
      return await get().client.call('history.export', { id });
    } catch (e) {
      get().notify((e as Error).message);
      return undefined;
    }
  },
});
