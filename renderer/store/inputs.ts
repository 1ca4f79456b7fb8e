import type { StateCreator } from 'zustand';
import type { SchedulerName } from '../../app/contract';
import type { StudioState } from './index';
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
}

export interface InputsSlice {
  inputs: Inputs;
  /** LoRAs applied to both sides (style), from the model's loras/ folder. */
  sharedLoras: LoraPick[];
  setInputs(patch: Partial<Inputs>): void;
  setSharedLora(path: string, patch: Partial<LoraPick>): void;
  randomiseSeed(): void;
  /** The seed a run uses now: the current one when locked, a fresh one (stored) when not. */
  seedForRun(): number;
}

export const randomSeed = (): number => Math.floor(Math.random() * 2 ** 32);

export const inputsSlice: StateCreator<StudioState, [], [], InputsSlice> = (set, get) => ({
  // Guidance 3: the embedded model's measured best (its README's sweep; SD's 7.5 over-saturates it).
  inputs: {
    prompt: 'grinning face, twemoji style', negativePrompt: '', seed: 42, seedLocked: true, steps: 20, guidance: 3,
    width: 128, height: 128, scheduler: '', repeats: 3,
  },
  sharedLoras: [],
  setInputs: (patch) => set((s) => ({ inputs: { ...s.inputs, ...patch } })),
  setSharedLora: (path, patch) => set((s) => ({ sharedLoras: s.sharedLoras.map((l) => (l.path === path ? { ...l, ...patch } : l)) })),
  randomiseSeed: () => set((s) => ({ inputs: { ...s.inputs, seed: randomSeed() } })),
  seedForRun: () => {
    const { inputs } = get();
    if (inputs.seedLocked) return inputs.seed;
    const seed = randomSeed();
    set({ inputs: { ...inputs, seed } });
    return seed;
  },
});
