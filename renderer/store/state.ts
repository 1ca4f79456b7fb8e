import type { StoreApi } from 'zustand/vanilla';
import type { StudioClient } from '../../app/channels';
import type { ControlSlice } from './control';
import type { HistorySlice } from './history';
import type { InputsSlice } from './inputs';
import type { MaskSlice } from './mask';
import type { ModelSlice } from './model';
import type { ProgressStore } from './progress';
import type { RunsSlice } from './runs';
import type { UiSlice } from './ui';
import type { VariantsSlice } from './variants';

/**
 * The store's state type, apart from the store (index.ts): slices type their `set`/`get` with it
 * and import only types from here, so no slice imports the module that assembles them.
 */
export interface Base {
  client: StudioClient;
  progress: ProgressStore;
}

export type StudioState = Base & ModelSlice & InputsSlice & MaskSlice & ControlSlice & VariantsSlice & RunsSlice & HistorySlice & UiSlice;
export type StudioStore = StoreApi<StudioState>;
