import type { StateCreator } from 'zustand';
import { CANNY_DEFAULTS, type ControlNetParams } from '../../app/controlnet';
import { EMOJI_CONTROLNET_DEMO as DEMO } from '../../app/presets';
import type { RunInputs } from '../../app/run-request';
import type { InitImage } from './inputs';
import { currentModel } from './model';
import type { StudioState } from './state';

/** One ControlNet of the panel: its folder (by path) and diffusers' scale and step window. */
export interface ControlUnit {
  dir: string;
  scale: number;
  start: number;
  end: number;
}

export interface Control {
  enabled: boolean;
  units: ControlUnit[];
  canny: boolean;
  low: number;
  high: number;
  onCachedSteps: 'run' | 'reuse';
}

export interface ControlSlice {
  control: Control;
  /** The control map's source image, uploaded once (the canny map is made from it by the engine; the panel previews it). */
  controlImage?: InitImage;
  setControl(patch: Partial<Control>): void;
  setControlUnit(i: number, patch: Partial<ControlUnit>): void;
  addControlUnit(dir?: string): void;
  removeControlUnit(i: number): void;
  setControlImage(name: string, png: Uint8Array): Promise<void>;
  clearControlImage(): void;
  /** The embedded demo (edges -> emoji): the model with its ControlNet, the bundled map as is, its prompt and seed; a txt2img run. */
  loadControlNetDemo(png: Uint8Array): Promise<void>;
}

/** The model offering the demo's ControlNet (the current one first), and that ControlNet's folder. */
export function controlNetDemoModel(s: StudioState): { model: NonNullable<ReturnType<typeof currentModel>>; dir: string } | undefined {
  for (const m of [currentModel(s), ...s.models]) {
    const cn = m?.controlnets?.find((c) => c.name === DEMO.controlnet);
    if (m && cn) return { model: m, dir: cn.dir };
  }
  return undefined;
}

export const controlSlice: StateCreator<StudioState, [], [], ControlSlice> = (set, get) => ({
  control: { enabled: false, units: [], canny: true, low: CANNY_DEFAULTS.low, high: CANNY_DEFAULTS.high, onCachedSteps: 'run' },
  setControl: (patch) => set((s) => ({ control: { ...s.control, ...patch } })),
  setControlUnit: (i, patch) => set((s) => ({ control: { ...s.control, units: s.control.units.map((u, k) => (k === i ? { ...u, ...patch } : u)) } })),
  addControlUnit: (dir = '') => set((s) => ({ control: { ...s.control, enabled: true, units: [...s.control.units, { dir, scale: 1, start: 0, end: 1 }] } })),
  removeControlUnit: (i) => set((s) => ({ control: { ...s.control, units: s.control.units.filter((_, k) => k !== i) } })),
  setControlImage: async (name, png) => {
    const stored = await get().uploadImage(png);
    set({ controlImage: { ...stored, name } });
  },
  clearControlImage: () => set({ controlImage: undefined }),
  loadControlNetDemo: async (png) => {
    const s = get(), found = controlNetDemoModel(s);
    if (!found) throw new Error(`no model offers ${DEMO.controlnet}/ (the embedded emoji model does: assets/models/emoji-sd)`);
    const { model: m, dir } = found, p = DEMO.params;
    if (m.dir !== s.modelDir) s.selectModel(m.dir);
    await get().setControlImage(DEMO.image.split('/').pop()!, png);
    set((st) => ({
      initImage: undefined, mask: undefined, garment: undefined, tryOn: false,
      control: { ...st.control, enabled: true, canny: false, units: [{ dir, scale: DEMO.scale, start: 0, end: 1 }] },
      inputs: { ...st.inputs, prompt: p.prompt, negativePrompt: '', seed: p.seed, seedLocked: true, steps: p.steps, guidance: p.guidance },
    }));
  },
});

/** The run's params.controlnet and control image ref, when the panel is on; every unit shares the one map. */
export function controlRequest(s: StudioState): { controlnet?: ControlNetParams; inputs: RunInputs } {
  const c = s.control;
  if (!c.enabled || c.units.length === 0) return { inputs: {} };
  const units = c.units.map((u) => ({
    ...(u.dir.trim() ? { dir: u.dir.trim() } : {}), scale: u.scale, start: u.start, end: u.end,
    preprocess: c.canny ? 'canny' as const : 'none' as const, low: c.low, high: c.high,
  }));
  return { controlnet: { units, onCachedSteps: c.onCachedSteps }, inputs: s.controlImage ? { controlImage: s.controlImage.ref } : {} };
}
