import type { StateCreator } from 'zustand';
import { compareTitle, type HistoryManifest, type HistorySummary } from '../../app/studio';
import type { StudioState } from './state';
import { fromVariant } from './variants';

/** What the History tab shows: words over prompt, title, variants and model; model and kind filters ('' = all). */
export interface HistoryQuery {
  text: string;
  model: string;
  kind: '' | HistorySummary['kind'];
}

export function filterHistory(list: readonly HistorySummary[], q: HistoryQuery): HistorySummary[] {
  const words = q.text.toLowerCase().split(/\s+/).filter(Boolean);
  return list.filter((h) => {
    if (q.model && h.model !== q.model) return false;
    if (q.kind && h.kind !== q.kind) return false;
    const hay = `${h.prompt}\n${h.title}\n${h.variants}\n${h.model}`.toLowerCase();
    return words.every((w) => hay.includes(w));
  });
}

export interface HistorySlice {
  history: HistorySummary[];
  historyQuery: HistoryQuery;
  /** The entry the editors were forked from: the next compare records it as its parent. */
  forkOf?: { id: string; title: string };
  /** What the last Load / Fork did, as the History tab says it. */
  loaded?: string;
  setHistoryQuery(patch: Partial<HistoryQuery>): void;
  refreshHistory(): Promise<void>;
  deleteEntry(id: string): Promise<void>;
  exportEntry(id: string): Promise<{ html: string; path: string } | undefined>;
  /** An entry's model, prompt, params, init image and both variants into the editors; `fork` also records it as the parent. */
  loadEntry(id: string, fork?: boolean): Promise<void>;
  clearFork(): void;
}

const entryTitle = (m: HistoryManifest): string => (m.compare ? compareTitle(m.compare.a, m.compare.b) : `sweep of ${m.createdAt}`);

export const historySlice: StateCreator<StudioState, [], [], HistorySlice> = (set, get) => ({
  history: [],
  historyQuery: { text: '', model: '', kind: '' },
  setHistoryQuery: (patch) => set((s) => ({ historyQuery: { ...s.historyQuery, ...patch } })),
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
  loadEntry: async (id, fork = false) => {
    try {
      const m = await get().client.call('history.get', { id });
      const notes: string[] = [];
      if (get().models.some((x) => x.dir === m.model.dir)) get().selectModel(m.model.dir);
      else notes.push(`its model ${m.model.name} is not in the model list (add ${m.model.dir}); the current model stays`);
      const p = m.params, used = m.compare?.runs[0]?.result.params;
      const width = p.width ?? used?.width, height = p.height ?? used?.height;
      set((s) => ({
        inputs: {
          ...s.inputs, prompt: p.prompt, negativePrompt: p.negativePrompt ?? '', seed: p.seed, seedLocked: true, steps: p.steps, guidance: p.guidance,
          scheduler: p.scheduler ?? '', ...(width && height ? { width, height } : {}), ...(p.strength !== undefined ? { strength: p.strength } : {}),
          ...(m.compare ? { repeats: m.compare.repeats } : {}),
        },
        sharedLoras: s.sharedLoras.map((l) => ({ ...l, enabled: false })), // the entry's LoRAs are in its variants
        ...(m.compare ? { a: fromVariant(m.compare.a, m.compare.a.label), b: fromVariant(m.compare.b, m.compare.b.label) } : m.sweep ? { a: fromVariant(m.sweep.base, m.sweep.base.label) } : {}),
        forkOf: fork ? { id: m.id, title: entryTitle(m) } : undefined,
      }));
      const { initImage, ...others } = m.inputs ?? {};
      if (initImage) {
        const img = await get().client.call('inputs.get', { ref: initImage }).catch(() => undefined);
        if (img) set({ initImage: { ref: initImage, name: `init image of ${m.id}`, width: img.width, height: img.height, dataUrl: img.dataUrl } });
        else notes.push('its init image is no longer in the workspace');
      } else get().clearInitImage();
      if (Object.keys(others).length) notes.push(`not loaded: ${Object.keys(others).join(', ')}`);
      set({ loaded: `${fork ? 'Forked' : 'Loaded'} “${entryTitle(m)}” into the editors` });
      if (notes.length) get().notify(`${entryTitle(m)}: ${notes.join('; ')}`); // what could not come back is a warning
    } catch (e) {
      get().notify((e as Error).message);
    }
  },
  clearFork: () => set({ forkOf: undefined }),
});
