import { join } from 'node:path';
import { loadClipTokenizer, type ClipTokenizer } from '../tokenizer/clip';
import { inspectModel, PARTS, type ModelInfo, type Part } from './folder';
import { openSession, type OrtSession, type SessionOptions } from './onnx-session';

export { inspectModel, modelHash, PARTS, type ModelInfo, type Part } from './folder';

export interface LoadedModel extends ModelInfo {
  tokenizer: ClipTokenizer;
  sessions: { text_encoder: OrtSession; unet: OrtSession; vae_decoder: OrtSession; vae_encoder?: OrtSession };
  /** Graphs accelerations added (e.g. DeepCache's shallow UNet), by name. */
  extras: Map<string, OrtSession>;
  /** The file each session was opened from. */
  files: Record<string, string>;
  /** Seconds spent creating each session (first-run cost is reported apart from steady state). */
  loadMs: Record<string, number>;
  release(): Promise<void>;
}

/**
 * Opens every graph of the folder (or the derived graph an acceleration names in `graphs`, plus
 * its extra graphs); on any failure, releases what was opened and rethrows.
 */
export async function loadModel(dir: string, options: SessionOptions = {}, graphs: Record<string, string> = {}, perGraph: Record<string, SessionOptions> = {}): Promise<LoadedModel> {
  const info = inspectModel(dir);
  const tokenizer = loadClipTokenizer(join(info.dir, 'tokenizer'));
  const opened: Record<string, OrtSession> = {};
  const loadMs: Record<string, number> = {};
  const files: Record<string, string> = {};
  const names = [...PARTS.filter((p) => p !== 'vae_encoder' || info.hasVaeEncoder), ...Object.keys(graphs).filter((k) => !PARTS.includes(k as Part))];
  const release = async (): Promise<void> => {
    await Promise.all(Object.values(opened).map((s) => s.release()));
    for (const k of Object.keys(opened)) delete opened[k];
  };
  try {
    for (const name of names) {
      const t0 = performance.now();
      files[name] = graphs[name] ?? join(info.dir, name, 'model.onnx');
      opened[name] = await openSession(files[name], { ...options, ...perGraph[name] });
      loadMs[name] = performance.now() - t0;
    }
  } catch (e) {
    await release();
    throw e;
  }
  const sessions = opened as unknown as LoadedModel['sessions'];
  const extras = new Map(Object.entries(opened).filter(([k]) => !PARTS.includes(k as Part)));
  return { ...info, tokenizer, sessions, extras, files, loadMs, release };
}

