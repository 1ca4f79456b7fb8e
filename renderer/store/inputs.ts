import type { StateCreator } from 'zustand';
import type { StudioClient } from '../../app/channels';
import type { SchedulerName } from '../../app/contract';
import type { ImageRef } from '../../app/run-request';
import type { StudioState } from './state';
import type { LoraPick } from './variants';

export interface Inputs {
  prompt: string;
  negativePrompt: string;
  seed: number;
  /** Locked: every run reuses the seed; unlocked: each run draws a new one. */
  seedLocked: boolean;
  steps: number;
  guidance: number;
  width: number;
  height: number;
  /** '' = the model folder's own scheduler. */
  scheduler: SchedulerName | '';
  repeats: number;
  /** img2img: how much of the schedule runs from the init image (used only with one). */
  strength: number;
  /** Reuse A's runs from an earlier entry when nothing A depends on changed (the host checks the key). */
  reuseA: boolean;
}

/** The init image both sides start from: uploaded to the host once, then named by its ref. */
export interface InitImage {
  ref: ImageRef;
  name: string;
  width: number;
  height: number;
  /** For the preview: the uploaded PNG itself. */
  dataUrl: string;
}

export interface InputsSlice {
  inputs: Inputs;
  /** LoRAs applied to both sides (style), from the model's loras/ folder. */
  sharedLoras: LoraPick[];
  setInputs(patch: Partial<Inputs>): void;
  setSharedLora(path: string, patch: Partial<LoraPick>): void;
  initImage?: InitImage;
  /** Uploads the PNG (the host validates and stores it) and makes it the init image of the next runs. */
  setInitImage(name: string, png: Uint8Array): Promise<void>;
  /** Uploads a PNG to the host's image store: its ref, size and a data URL for previews. */
  uploadImage(png: Uint8Array): Promise<Omit<InitImage, 'name'>>;
  clearInitImage(): void;
  randomiseSeed(): void;
  /** The seed a run uses now: the current one when locked, a fresh one (stored) when not. */
  seedForRun(): number;
}

export const randomSeed = (): number => Math.floor(Math.random() * 2 ** 32);

export const inputsSlice: StateCreator<StudioState, [], [], InputsSlice> = (set, get) => ({
  // Guidance 3: the embedded model's measured best (its README's sweep; SD's 7.5 over-saturates it).
  inputs: {
    prompt: 'grinning face, twemoji style', negativePrompt: '', seed: 42, seedLocked: true, steps: 20, guidance: 3,
    width: 128, height: 128, scheduler: '', repeats: 3, strength: 0.8, reuseA: false,
  },
  sharedLoras: [],
  setInputs: (patch) => set((s) => ({ inputs: { ...s.inputs, ...patch } })),
  setSharedLora: (path, patch) => set((s) => ({ sharedLoras: s.sharedLoras.map((l) => (l.path === path ? { ...l, ...patch } : l)) })),
  setInitImage: async (name, png) => set({ initImage: await uploadImage(get().client, name, png) }),
  clearInitImage: () => set({ initImage: undefined, mask: undefined, garment: undefined }),
  uploadImage: async (png) => uploadImage(get().client, '', png),
  randomiseSeed: () => set((s) => ({ inputs: { ...s.inputs, seed: randomSeed() } })),
  seedForRun: () => {
    const { inputs } = get();
    if (inputs.seedLocked) return inputs.seed;
    const seed = randomSeed();
    set({ inputs: { ...inputs, seed } });
    return seed;
  },
});

/** Uploads a PNG to the host's image store (validated there) and returns it as an input image, by ref. */
export async function uploadImage(client: StudioClient, name: string, png: Uint8Array): Promise<InitImage> {
  const png64 = toBase64(png);
  const stored = await client.call('inputs.upload', { png: png64 });
  return { ref: stored.ref, name, width: stored.width, height: stored.height, dataUrl: `data:image/png;base64,${png64}` };
}

function toBase64(bytes: Uint8Array): string {
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}
