import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { HistoryManifest, HistorySummary, JobId, speedup } from '../../app/studio';
import { TMP_MARK, writeFileAtomic, writeJsonAtomic } from './atomic';

/** File names an entry may hold: one level of sub-folder at most, no dots in front. */
const FILE_NAME = /^[a-z0-9][a-z0-9_-]*(\/[a-z0-9][a-z0-9_-]*)?\.(png|html|json)$/i;

/**
 * The run history: one folder per entry under <workspace>/runs, each with manifest.json and its
 * images, every file written atomically. An entry still "running" when the studio starts was cut
 * off (crash, kill): it is kept and marked interrupted.
 */
export class HistoryStore {
  readonly runs: string;

  constructor(readonly workspace: string) {
    this.runs = join(workspace, 'runs');
  }

  open(): this {
    mkdirSync(this.runs, { recursive: true });
    for (const name of readdirSync(this.runs)) {
      const dir = join(this.runs, name);
      if (name.startsWith('.trash-')) {
        rmSync(dir, { recursive: true, force: true });
        continue;
      }
      if (!statSync(dir).isDirectory()) continue;
      for (const f of readdirSync(dir)) if (f.includes(TMP_MARK)) rmSync(join(dir, f), { force: true });
      const m = this.tryRead(name);
      if (m && (m.status === 'running' || m.status === 'queued')) {
        this.save({ ...m, status: 'interrupted', finishedAt: new Date().toISOString(), error: 'the studio stopped while this job was running; the runs that finished are kept' });
      }
    }
    return this;
  }

  create(m: HistoryManifest): void {
    mkdirSync(this.dir(m.id), { recursive: true });
    this.save(m);
  }

  save(m: HistoryManifest): void {
    writeJsonAtomic(join(this.dir(m.id), 'manifest.json'), HistoryManifest.parse(m));
  }

  writeFile(id: string, name: string, data: Uint8Array | string): string {
    const path = this.filePath(id, name);
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileAtomic(path, data);
    return path;
  }

  get(id: string): HistoryManifest {
    const m = this.tryRead(JobId.parse(id));
    if (!m) throw new Error(`history: no entry ${id}`);
    return m;
  }

  /** Newest first; entries whose manifest cannot be read are skipped (and logged), not fatal. */
  list(): HistorySummary[] {
    const out: HistorySummary[] = [];
    for (const name of existsSync(this.runs) ? readdirSync(this.runs) : []) {
      if (!JobId.safeParse(name).success) continue;
      const m = this.tryRead(name);
      if (m) out.push(this.summary(m));
    }
    return out.sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.id.localeCompare(a.id));
  }

  summary(m: HistoryManifest): HistorySummary {
    const thumbPath = m.thumb ? this.filePath(m.id, m.thumb) : undefined;
    const thumb = thumbPath && existsSync(thumbPath) ? `data:image/png;base64,${readFileSync(thumbPath).toString('base64')}` : undefined;
    const title = m.compare
      ? `${m.compare.a.label} vs ${m.compare.b.label}${m.compare.repeats > 1 ? ` ×${m.compare.repeats}` : ''}`
      : `DeepCache sweep: intervals ${m.sweep!.intervals[0]}..${m.sweep!.intervals.at(-1)}, branches ${m.sweep!.branches.join(',')}`;
    return {
      id: m.id, kind: m.kind, createdAt: m.createdAt, status: m.status, prompt: m.params.prompt, model: m.model.name, title, thumb,
      speedup: m.compare ? speedup(m.compare.runs) : undefined, ssim: m.compare?.metrics?.ssim, error: m.error,
    };
  }

  /** Deleting renames first, so a listing never sees half a folder. */
  delete(id: string): void {
    const dir = this.dir(JobId.parse(id));
    if (!existsSync(dir)) throw new Error(`history: no entry ${id}`);
    const trash = join(this.runs, `.trash-${id}`);
    renameSync(dir, trash);
    rmSync(trash, { recursive: true, force: true });
  }

  /** The path of a file of an entry; never outside it (names are checked, then the resolved path). */
  filePath(id: string, name: string): string {
    const dir = this.dir(JobId.parse(id));
    if (!FILE_NAME.test(name)) throw new Error(`history: "${name}" is not a file name an entry holds`);
    const p = resolve(dir, name);
    if (!p.startsWith(dir + sep)) throw new Error(`history: "${name}" is outside the entry`);
    return p;
  }

  private dir(id: string): string {
    return resolve(this.runs, id);
  }

  private tryRead(id: string): HistoryManifest | undefined {
    const path = join(this.dir(id), 'manifest.json');
    if (!existsSync(path)) return undefined;
    try {
      return HistoryManifest.parse(JSON.parse(readFileSync(path, 'utf8')));
    } catch (e) {
      console.warn(`history: skipping ${path}: ${(e as Error).message.split('\n')[0]}`);
      return undefined;
    }
  }
}
