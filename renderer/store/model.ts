import { plainError } from '../../app/errors';
import type { StateCreator } from 'zustand';
import type { EngineState, ModelEntry, ProviderStatus, StudioInfo } from '../../app/studio';
import type { StudioState } from './state';

export interface ModelSlice {
  info?: StudioInfo;
  models: ModelEntry[];
  modelDir: string;
  modelError?: string;
  providers: ProviderStatus[];
  engine: EngineState;
  connection: 'connecting' | 'open' | 'closed';
  loadModels(): Promise<void>;
  selectModel(dir: string): void;
  addModel(path: string): Promise<boolean>;
  loadProviders(): Promise<void>;
}

export const currentModel = (s: StudioState): ModelEntry | undefined => s.models.find((m) => m.dir === s.modelDir);

export const modelSlice: StateCreator<StudioState, [], [], ModelSlice> = (set, get) => ({
  models: [],
  modelDir: '',
  providers: [],
  engine: { state: 'starting', restarts: 0 },
  connection: 'connecting',
  loadModels: async () => {
    const models = await get().client.call('models.list', {});
    set({ models });
    const kept = models.find((m) => m.dir === get().modelDir); // restored from the last session
    if (kept && !get().sharedLoras.length) set({ sharedLoras: kept.loras.map((l) => ({ path: l.path, weight: 1, enabled: false })) });
    else if (!kept && models[0]) get().selectModel(models[0].dir);
  },
  selectModel: (dir) => {
    const m = get().models.find((x) => x.dir === dir);
    if (!m) return;
    set((s) => ({
      modelDir: dir,
      modelError: undefined,
      inputs: { ...s.inputs, width: m.defaultSize, height: m.defaultSize, ...(m.guidance !== undefined && dir !== s.modelDir ? { guidance: m.guidance } : {}) },
      sharedLoras: m.loras.map((l) => ({ path: l.path, weight: 1, enabled: false })),
    }));
  },
  addModel: async (path) => {
    try {
      const m = await get().client.call('models.add', { path });
      await get().loadModels();
      get().selectModel(m.dir);
      return true;
    } catch (e) {
      set({ modelError: plainError((e as Error).message) });
      return false;
    }
  },
  loadProviders: async () => {
    try {
      set({ providers: await get().client.call('providers.list', {}) });
    } catch (e) {
      get().notify(`providers: ${(e as Error).message}`);
    }
  },
});
