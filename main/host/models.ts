import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { ModelEntry } from '../../app/studio';
// the folder checks only: the main process must not load onnxruntime
import { inspectModel } from '../../engine/model/folder';
import { defaultSchedulerName } from '../../engine/schedulers/registry';
import { writeJsonAtomic } from './atomic';
import { resolveUserPath } from './workspace-paths';

export interface ModelPaths {
  /** The embedded default model (assets/models/emoji-sd, or the packaged app's resources). */
  embedded: string;
  /** The tiny random model the studio falls back to while the embedded one is missing. */
  fixture: string;
}

export const FALLBACK_NOTE =
  'The embedded emoji model is not installed yet (assets/models/emoji-sd/model_index.json is missing): using the tiny random test model, whose images are noise.';

/** The model picker's list: the default model first, then folders the user added (kept in the workspace). */
export class ModelRegistry {
  private readonly file: string;

  constructor(private readonly paths: ModelPaths, workspace: string) {
    this.file = join(workspace, 'models.json');
  }

  get embeddedInstalled(): boolean {
    return existsSync(join(this.paths.embedded, 'model_index.json'));
  }

  defaultModel(): ModelEntry {
    return this.embeddedInstalled
      ? entry(this.paths.embedded, 'embedded')
      : { ...entry(this.paths.fixture, 'fixture'), note: FALLBACK_NOTE };
  }

  list(): ModelEntry[] {
    const out = [this.defaultModel()];
    for (const dir of this.userDirs()) {
      try {
        out.push(entry(dir, 'user'));
      } catch (e) {
        console.warn(`models: skipping ${dir}: ${(e as Error).message}`);
      }
    }
    return out;
  }

  /** Validates the folder (inspectModel names the bad file) before remembering it. */
  add(path: string): ModelEntry {
    const e = entry(resolveUserPath(path), 'user');
    const dirs = this.userDirs();
    if (!dirs.includes(e.dir) && e.dir !== this.defaultModel().dir) writeJsonAtomic(this.file, [...dirs, e.dir]);
    return e;
  }

  remove(dir: string): void {
    writeJsonAtomic(this.file, this.userDirs().filter((d) => d !== resolve(dir)));
  }

  private userDirs(): string[] {
    if (!existsSync(this.file)) return [];
    try {
      const v: unknown = JSON.parse(readFileSync(this.file, 'utf8'));
      return Array.isArray(v) ? v.filter((d): d is string => typeof d === 'string') : [];
    } catch {
      return [];
    }
  }
}

function entry(dir: string, source: ModelEntry['source']): ModelEntry {
  const info = inspectModel(dir);
  const loraDir = join(info.dir, 'loras');
  const loras = existsSync(loraDir)
    ? readdirSync(loraDir).filter((f) => f.endsWith('.safetensors')).sort().map((f) => ({ path: join(loraDir, f), name: f.replace(/\.safetensors$/, '') }))
    : [];
  const controlnets = info.controlnetDirs.map((dir) => ({ dir, name: basename(dir) }));
  return { dir: info.dir, name: info.name, source, defaultSize: info.defaultSize, defaultScheduler: defaultSchedulerName(info.schedulerConfig), guidance: info.recommendedGuidance, loras, controlnets };
}
