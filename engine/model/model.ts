import { loadClipTokenizer, type ClipTokenizer } from '../tokenizer/clip';
import { GRAPH_COMPONENTS, TOKENIZER_COMPONENTS } from './components';
import { inspectModel, type ModelInfo } from './folder';
import { openSession, type OrtSession, type SessionOptions } from './onnx-session';

export { inspectModel, modelHash, requireComponents, type ModelInfo } from './folder';
export { GRAPH_COMPONENTS, type ComponentName, type GraphComponent } from './components';

/** The graph components of the SD 1.x/2.x layout. */
export const PARTS = ['text_encoder', 'unet', 'vae_decoder', 'vae_encoder'] as const;
export type Part = (typeof PARTS)[number];

export interface LoadedModel extends ModelInfo {
  /** One session per graph component the folder has, plus the graphs accelerations added (DeepCache's unet_shallow), by name. */
  sessions: Record<string, OrtSession>;
  tokenizers: Record<string, ClipTokenizer>;
  /** The file each session was opened from. */
  files: Record<string, string>;
  /** Milliseconds spent creating each session (first-run cost is reported apart from steady state). */
  loadMs: Record<string, number>;
  release(): Promise<void>;
}

/**
 * Opens a session per graph component (from the derived file an acceleration names in `graphs`,
 * if any) and per extra graph in `graphs`; on any failure, releases what was opened and rethrows.
 */
export async function loadModel(dir: string, options: SessionOptions = {}, graphs: Record<string, string> = {}, perGraph: Record<string, SessionOptions> = {}): Promise<LoadedModel> {
  const info = inspectModel(dir);
  const tokenizers: Record<string, ClipTokenizer> = {};
  for (const name of TOKENIZER_COMPONENTS) if (info.components[name]) tokenizers[name] = loadClipTokenizer(info.components[name].dir);
  const own = GRAPH_COMPONENTS.flatMap((c) => (info.components[c] ? [[c, info.components[c].file!] as const] : []));
  const extra = Object.entries(graphs).filter(([k]) => !(GRAPH_COMPONENTS as readonly string[]).includes(k));
  const sessions: Record<string, OrtSession> = {};
  const loadMs: Record<string, number> = {};
  const files: Record<string, string> = {};
  const release = async (): Promise<void> => {
    await Promise.all(Object.values(sessions).map((s) => s.release()));
    for (const k of Object.keys(sessions)) delete sessions[k];
  };
  try {
    for (const [name, file] of [...own, ...extra]) {
      const t0 = performance.now();
      files[name] = graphs[name] ?? file;
      // config entries (extra) add up: a graph's own entries beside the variant's
      sessions[name] = await openSession(files[name], { ...options, ...perGraph[name], extra: { ...options.extra, ...perGraph[name]?.extra } });
      loadMs[name] = performance.now() - t0;
    }
  } catch (e) {
    await release();
    throw e;
  }
  return { ...info, sessions, tokenizers, files, loadMs, release };
}
