import type { StateCreator } from 'zustand';
import type { Colormap } from '../../app/metrics';
import { DEFAULT_THRESHOLDS, type Region, type VerdictThresholds } from '../../app/verdict';
import type { StudioState } from './state';

/** A tab's id (renderer/views/tabs.ts lists them); an entry's kind opens its own tab. */
export type Tab = string;

export interface UiSlice {
  tab: Tab;
  view: string;
  /**
   * Shared by every compare view, in image coordinates: `zoom` over the fit scale, and the image
   * point (fractions of width and height) at the centre of every viewport.
   */
  zoom: number;
  center: { x: number; y: number };
  /** The image pixel under the pointer (the pixel inspector), and a region marked on every view. */
  inspect?: { x: number; y: number };
  highlight?: Region;
  thresholds: VerdictThresholds;
  swipe: number;
  blinkB: boolean;
  gain: number;
  colormap: Colormap;
  ssimThreshold: number;
  aboutOpen: boolean;
  notices: { id: number; text: string }[];
  setTab(tab: Tab): void;
  setView(view: string): void;
  setZoom(zoom: number, center?: { x: number; y: number }): void;
  setCenter(center: { x: number; y: number }): void;
  resetView(): void;
  setUi(patch: Partial<Pick<UiSlice, 'swipe' | 'blinkB' | 'gain' | 'colormap' | 'ssimThreshold' | 'aboutOpen' | 'inspect' | 'highlight' | 'thresholds'>>): void;
  notify(text: string): void;
  dismiss(id: number): void;
}

let noticeId = 0;
export const MIN_ZOOM = 0.25;
export const MAX_ZOOM = 32;

/** The centre stays on the image (a drag cannot lose it off-screen). */
const clampCenter = (c: { x: number; y: number }): { x: number; y: number } => ({ x: Math.min(1, Math.max(0, c.x)), y: Math.min(1, Math.max(0, c.y)) });

export const uiSlice: StateCreator<StudioState, [], [], UiSlice> = (set) => ({
  tab: 'compare',
  view: 'side-by-side',
  zoom: 1,
  center: { x: 0.5, y: 0.5 },
  thresholds: DEFAULT_THRESHOLDS,
  swipe: 0.5,
  blinkB: false,
  gain: 4,
  colormap: 'inferno',
  ssimThreshold: 0.95,
  aboutOpen: false,
  notices: [],
  setTab: (tab) => set({ tab }),
  setView: (view) => set({ view }),
  setZoom: (zoom, center) => set((s) => ({ zoom: Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, zoom)), center: clampCenter(center ?? s.center) })),
  setCenter: (center) => set({ center: clampCenter(center) }),
  resetView: () => set({ zoom: 1, center: { x: 0.5, y: 0.5 } }),
  setUi: (patch) => set(patch),
  notify: (text) => {
    const id = ++noticeId;
    set((s) => ({ notices: [...s.notices.slice(-3), { id, text }] }));
    setTimeout(() => set((s) => ({ notices: s.notices.filter((n) => n.id !== id) })), 15_000); // the history keeps the error
  },
  dismiss: (id) => set((s) => ({ notices: s.notices.filter((n) => n.id !== id) })),
});
