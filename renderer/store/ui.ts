import type { StateCreator } from 'zustand';
import type { Colormap } from '../../app/metrics';
import type { StudioState } from './state';

export type Tab = 'compare' | 'latency' | 'sweep' | 'blind' | 'history';

export interface UiSlice {
  tab: Tab;
  view: string;
  /** Shared by every compare view: they zoom and pan together. */
  zoom: number;
  pan: { x: number; y: number };
  swipe: number;
  blinkB: boolean;
  gain: number;
  colormap: Colormap;
  ssimThreshold: number;
  aboutOpen: boolean;
  notices: { id: number; text: string }[];
  setTab(tab: Tab): void;
  setView(view: string): void;
  setZoom(zoom: number, pan?: { x: number; y: number }): void;
  setPan(pan: { x: number; y: number }): void;
  resetView(): void;
  setUi(patch: Partial<Pick<UiSlice, 'swipe' | 'blinkB' | 'gain' | 'colormap' | 'ssimThreshold' | 'aboutOpen'>>): void;
  notify(text: string): void;
  dismiss(id: number): void;
}

let noticeId = 0;
export const MIN_ZOOM = 0.25;
export const MAX_ZOOM = 32;

export const uiSlice: StateCreator<StudioState, [], [], UiSlice> = (set) => ({
  tab: 'compare',
  view: 'side-by-side',
  zoom: 1,
  pan: { x: 0, y: 0 },
  swipe: 0.5,
  blinkB: false,
  gain: 4,
  colormap: 'inferno',
  ssimThreshold: 0.95,
  aboutOpen: false,
  notices: [],
  setTab: (tab) => set({ tab }),
  setView: (view) => set({ view }),
  setZoom: (zoom, pan) => set((s) => ({ zoom: Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, zoom)), pan: pan ?? s.pan })),
  setPan: (pan) => set({ pan }),
  resetView: () => set({ zoom: 1, pan: { x: 0, y: 0 } }),
  setUi: (patch) => set(patch),
  notify: (text) => {
    const id = ++noticeId;
    set((s) => ({ notices: [...s.notices.slice(-3), { id, text }] }));
    setTimeout(() => set((s) => ({ notices: s.notices.filter((n) => n.id !== id) })), 15_000); // the history keeps the error
  },
  dismiss: (id) => set((s) => ({ notices: s.notices.filter((n) => n.id !== id) })),
});
