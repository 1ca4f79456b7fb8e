import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { compareTitle, HistoryManifest, HistorySummary, JobId, speedup, variantText } from '../../app/studio';
import { ranLabel } from '../../app/run-stats';

const sideResult = (m: HistoryManifest, side: string) => m.compare?.runs.find((r) => r.side === side)?.result;
/** " · B (fell back to cpu)" for each side that ran elsewhere than asked: the title says what ran. */
const fellBack = (m: HistoryManifest): string => (['A', 'B'] as const).filter((s) => sideResult(m, s)?.fellBack).map((s) => ` · ${ranLabel(s, sideResult(m, s))}`).join('');
import { TMP_MARK, writeFileAtomic, writeJsonAtomic } from './atomic';
import { describeWriteError, readInside, resolveInside, WorkspaceError } from './workspace-paths';

/** File names an entry may hold: one level of sub-folder at most, no dots in front. */
const FILE_NAME = /^[a-z0-9][a-z0-9_-]*(\/[a-z0-9][a-z0-9_-]*)?\.(png|html|json|bin)$/i;
/** Bounds on what the host reads back: a manifest, and a thumbnail inlined in every listing. */
const MANIFEST_BYTES = 16 * 1024 * 1024;
const THUMB_BYTES = 1024 * 1024;
export const ENTRY_FILE_BYTES = 256 * 1024 * 1024;

const FINAL = new Set(['done', 'failed', 'cancelled', 'interrupted']);

/**
 * The run history: one folder per entry under <workspace>/runs, each with manifest.json and its
 * images, every file written atomically and every path resolved inside the workspace. Ids are
 * unique: creating an entry whose folder exists is refused. An entry still "running" when the
 * studio starts was cut off (crash, kill): it is kept and marked interrupted. A final state that
 * cannot be written (read-only or full disk) is still what this store reports until it can be.
 */
export class HistoryStore {
  readonly runs: string;
  /** Final manifests whose write failed, by id: listed and read as they should be on disk. */
  private readonly unsaved = new Map<string, HistoryManifest>();

  constructor(readonly workspace: string) {
    this.runs = join(workspace, 'runs');
  }

  open(): this {
    this.writing(this.runs, () => mkdirSync(this.runs, { recursive: true }));
    for (const name of readdirSync(this.runs)) {
      const dir = join(this.runs, name);
      if (name.startsWith('.trash-')) {
        rmSync(dir, { recursive: true, force: true });
        continue;
      }
      if (!JobId.safeParse(name).success || !statSync(dir).isDirectory()) continue;
      for (const f of readdirSync(dir)) if (f.includes(TMP_MARK)) rmSync(join(dir, f), { force: true });
      const m = this.tryRead(name);
      if (m && !FINAL.has(m.status)) {
        const interrupted = { ...m, status: 'interrupted' as const, finishedAt: new Date().toISOString(), error: 'the studio stopped while this job was running; the runs that finished are kept' };
        try {
          this.save(interrupted);
        } catch (e) {
          console.warn(`history: ${name} is interrupted but ${(e as Error).message}`);
        }
      }
    }
    return this;
  }

  /** A new entry; its id must be new (a finished or running entry is never overwritten). */
  create(m: HistoryManifest): void {
    const dir = this.dir(m.id);
    this.writing(this.runs, () => mkdirSync(this.runs, { recursive: true }));
    try {
      mkdirSync(dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new WorkspaceError(`history: an entry "${m.id}" already exists: every job needs a new id`);
      throw describeWriteError(e, this.runs);
    }
    this.save(m);
  }

  save(m: HistoryManifest): void {
    const path = this.filePath(m.id, 'manifest.json');
    try {
      this.writing(this.dir(m.id), () => writeJsonAtomic(path, HistoryManifest.parse(m)));
      this.unsaved.delete(m.id);
    } catch (e) {
      if (FINAL.has(m.status)) this.unsaved.set(m.id, m);
      throw e;
    }
  }

  writeFile(id: string, name: string, data: Uint8Array | string): string {
    const path = this.filePath(id, name);
    this.writing(this.dir(id), () => {
      mkdirSync(join(path, '..'), { recursive: true });
      writeFileAtomic(path, data);
    });
    return path;
  }

  /** A file of an entry, read within bounds (a pipe or a huge file in its place is refused). */
  readFile(id: string, name: string, maxBytes = ENTRY_FILE_BYTES): Buffer {
    const path = this.filePath(id, name);
    if (!existsSync(path)) throw new Error(`history: ${id} has no file ${name}`);
    return readInside(this.workspace, path, maxBytes, `history: ${id}/${name}`);
  }

  get(id: string): HistoryManifest {
    const m = this.tryRead(JobId.parse(id));
    if (!m) throw new Error(`history: no entry ${id}`);
    return m;
  }

  /** Newest first; entries whose manifest cannot be read are skipped (and logged), not fatal. */
  list(): HistorySummary[] {
    return this.manifests().map((m) => this.summary(m));
  }

  /** Every readable manifest, newest first. */
  manifests(): HistoryManifest[] {
    const out: HistoryManifest[] = [];
    for (const name of existsSync(this.runs) ? readdirSync(this.runs) : []) {
      if (!JobId.safeParse(name).success) continue;
      const m = this.tryRead(name);
      if (m) out.push(m);
    }
    return out.sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.id.localeCompare(a.id));
  }

  summary(m: HistoryManifest): HistorySummary {
    let thumb: string | undefined;
    try {
      if (m.thumb) thumb = `data:image/png;base64,${this.readFile(m.id, m.thumb, THUMB_BYTES).toString('base64')}`;
    } catch (e) {
      console.warn(`history: no thumbnail for ${m.id}: ${(e as Error).message}`);
    }
    const title = m.compare
      ? `${compareTitle(m.compare.a, m.compare.b)}${fellBack(m)}${m.compare.repeats > 1 ? ` ×${m.compare.repeats}` : ''}`
      : m.blind ? `Blind A/B: ${compareTitle(m.blind.a, m.blind.b)}, ${m.blind.pairs.length} pairs`
      : m.grid
        ? m.grid.mode === 'matrix' ? `Compatibility matrix: ${m.grid.settings?.length ?? 0} options` : `Grid: ${m.grid.axes.map((a) => `${a.label} ×${a.values.length}`).join(' × ')}`
        : `DeepCache sweep: intervals ${m.sweep!.intervals[0]}..${m.sweep!.intervals.at(-1)}, branches ${m.sweep!.branches.join(',')}`;
    const ab = m.compare ?? m.blind;
    const variants = ab ? `A: ${variantText(ab.a)}; B: ${variantText(ab.b)}` : m.sweep ? `base: ${variantText(m.sweep.base)}` : '';
    return {
      id: m.id, kind: m.kind, createdAt: m.createdAt, status: m.status, prompt: m.params.prompt, model: m.model.name, title, variants, thumb,
      speedup: m.compare ? speedup(m.compare.runs) : undefined, ssim: m.compare?.metrics?.ssim, error: m.error,
    };
  }

  /** Deleting renames first, so a listing never sees half a folder. */
  delete(id: string): void {
    const dir = resolveInside(this.workspace, this.dir(JobId.parse(id)), `history: ${id}`);
    if (!existsSync(dir)) throw new Error(`history: no entry ${id}`);
    const trash = join(this.runs, `.trash-${id}`);
    this.writing(this.runs, () => renameSync(dir, trash));
    rmSync(trash, { recursive: true, force: true });
    this.unsaved.delete(id);
  }

  /**
   * The real path of a file of an entry; never outside it (names are checked, then the resolved
   * path) nor, through a symlink at or above the entry, outside the workspace.
   */
  filePath(id: string, name: string): string {
    const dir = this.dir(JobId.parse(id));
    if (!FILE_NAME.test(name)) throw new Error(`history: "${name}" is not a file name an entry holds`);
    const p = resolve(dir, name);
    if (!p.startsWith(dir + sep)) throw new Error(`history: "${name}" is outside the entry`);
    return resolveInside(this.workspace, p, `history: ${id}/${name}`);
  }

  private dir(id: string): string {
    return resolve(this.runs, id);
  }

  /** Runs a write, its failure said as the workspace's (read-only, full) rather than a bare errno. */
  private writing<T>(dir: string, write: () => T): T {
    try {
      return write();
    } catch (e) {
      throw describeWriteError(e, dir);
    }
  }

  private tryRead(id: string): HistoryManifest | undefined {
    const pending = this.unsaved.get(id);
    if (pending) return pending;
    const where = join('runs', id, 'manifest.json');
    try {
      if (!existsSync(join(this.dir(id), 'manifest.json'))) return undefined;
      const m = HistoryManifest.parse(JSON.parse(this.readFile(id, 'manifest.json', MANIFEST_BYTES).toString('utf8')));
      if (m.id !== id) throw new Error(`its manifest names another entry ("${m.id}")`);
      return m;
    } catch (e) {
      console.warn(`history: skipping ${where}: ${(e as Error).message.split('\n')[0]}`);
      return undefined;
    }
  }
}
