import type { StateCreator } from 'zustand';
import { EMOJI_INPAINT_DEMO, TRYON } from '../../app/presets';
import { uploadImage, type InitImage } from './inputs';
import type { StudioState } from './state';

/** Inpainting's inputs beside the init image: the mask (white = repaint) and the try-on garment, uploaded by ref. */
export interface MaskSlice {
  mask?: InitImage;
  garment?: InitImage;
  /** Set by the try-on preset: the run asks for the preset's size (the engine resizes the person to it). */
  tryOn: boolean;
  setMask(name: string, png: Uint8Array): Promise<void>;
  clearMask(): void;
  setGarment(name: string, png: Uint8Array): Promise<void>;
  clearGarment(): void;
  /** One click: the field notes' try-on setup (576x768, 25 steps, strength, prompt), A baseline vs B DeepCache N=3. */
  applyTryOn(): void;
  /** The embedded demo: its image as the init image, its mask, its prompt and seed. */
  loadInpaintDemo(image: Uint8Array, mask: Uint8Array): Promise<void>;
}

export const maskSlice: StateCreator<StudioState, [], [], MaskSlice> = (set, get) => ({
  tryOn: false,
  setMask: async (name, png) => set({ mask: await uploadImage(get().client, name, png) }),
  clearMask: () => set({ mask: undefined, garment: undefined, tryOn: false }),
  setGarment: async (name, png) => set({ garment: await uploadImage(get().client, name, png) }),
  clearGarment: () => set({ garment: undefined }),
  applyTryOn: () => {
    const p = TRYON.params;
    set((s) => ({
      tryOn: true,
      inputs: { ...s.inputs, width: p.width!, height: p.height!, steps: p.steps!, strength: p.strength!, prompt: p.prompt! },
      a: { ...s.a, label: 'baseline', deepcache: { ...s.a.deepcache, enabled: false } },
      b: { ...s.b, label: 'DeepCache N=3', deepcache: { ...s.b.deepcache, enabled: true, interval: 3 } },
    }));
  },
  loadInpaintDemo: async (image, mask) => {
    const client = get().client;
    const [initImage, m] = await Promise.all([uploadImage(client, 'emoji-inpaint-image.png', image), uploadImage(client, 'emoji-inpaint-mask.png', mask)]);
    const p = EMOJI_INPAINT_DEMO.params;
    set((s) => ({ initImage, mask: m, garment: undefined, tryOn: false, inputs: { ...s.inputs, prompt: p.prompt, seed: p.seed, seedLocked: true, steps: p.steps, guidance: p.guidance, strength: p.strength } }));
  },
});
