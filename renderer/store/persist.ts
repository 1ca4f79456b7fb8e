import type { StudioState, StudioStore } from './state';
import type { InitImage } from './inputs';
import { VerdictThresholds } from '../../app/verdict';

const KEY = 'diffusion-ab-studio:settings:v1';
type Saved = Pick<StudioState, 'modelDir' | 'inputs' | 'a' | 'b' | 'view' | 'colormap' | 'gain' | 'ssimThreshold' | 'thresholds'> & { initImage?: Omit<InitImage, 'dataUrl'> };

/**
 * Inputs, both variants and view choices survive a reload (localStorage, per origin). Written
 * on change, at most every 300 ms; runs and history live in the workspace, not here.
 */
export function persistSettings(store: StudioStore, storage: Storage | undefined = globalThis.localStorage): () => void {
  if (!storage) return () => {};
  try {
    const saved = JSON.parse(storage.getItem(KEY) ?? 'null') as Partial<Saved> | null;
    if (saved) {
      const s = store.getState();
      store.setState({
        modelDir: saved.modelDir ?? s.modelDir,
        inputs: { ...s.inputs, ...saved.inputs }, a: { ...s.a, ...saved.a }, b: { ...s.b, ...saved.b },
        view: saved.view ?? s.view, colormap: saved.colormap ?? s.colormap, gain: saved.gain ?? s.gain, ssimThreshold: saved.ssimThreshold ?? s.ssimThreshold,
        thresholds: VerdictThresholds.safeParse(saved.thresholds).data ?? s.thresholds, // a hand-edited entry cannot break the reading
      });
      const init = saved.initImage;
      // the init image is kept by ref; its pixels come back from the workspace store (gone: back to txt2img)
      if (init) void s.client.call('inputs.get', { ref: init.ref }).then(({ dataUrl }) => store.setState({ initImage: { ...init, dataUrl } }), () => undefined);
    }
  } catch {
    storage.removeItem(KEY); // a stale or broken entry is dropped, not fatal
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  let last: unknown[] = [];
  return store.subscribe((s) => {
    const now = [s.modelDir, s.inputs, s.a, s.b, s.view, s.colormap, s.gain, s.ssimThreshold, s.thresholds, s.initImage];
    if (now.every((v, i) => v === last[i])) return;
    last = now;
    clearTimeout(timer);
    timer = setTimeout(() => {
      const { modelDir, inputs, a, b, view, colormap, gain, ssimThreshold, thresholds, initImage } = store.getState();
      const init = initImage && { ref: initImage.ref, name: initImage.name, width: initImage.width, height: initImage.height };
      storage.setItem(KEY, JSON.stringify({ modelDir, inputs, a, b, view, colormap, gain, ssimThreshold, thresholds, initImage: init } satisfies Saved));
    }, 300);
  });
}
