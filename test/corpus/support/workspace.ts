/** Workspace faults made on the fly: entries, symlinks out, pipes, read-only mounts. */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HistoryManifest } from '../../../app/studio';

const variant = (label: string) => ({ label, provider: 'cpu' as const, allowFallback: false, precision: 'fp32' as const, optLevel: 'all' as const, fusedAttention: false, loras: [], cfgTruncation: 1, tf32: true, stepInGraph: 'auto' as const });

export function manifest(id: string, patch: Partial<HistoryManifest> = {}): HistoryManifest {
  return {
    version: 1, id, kind: 'compare', createdAt: new Date().toISOString(), status: 'done', model: { dir: '/m', name: 'm' },
    params: { prompt: 'a cat', negativePrompt: '', seed: 1, steps: 4, guidance: 7.5, batch: 1 },
    compare: { a: variant('A'), b: variant('B'), repeats: 1, runs: [], images: {} },
    ...patch,
  };
}

/** An entry folder written by hand (not through the store), as a careless user or an attacker would. */
export function entryFolder(dir: string, m: HistoryManifest, files: Record<string, string | Uint8Array> = {}): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(m));
  for (const [name, data] of Object.entries(files)) writeFileSync(join(dir, name), data);
  return dir;
}

export const mkfifo = (path: string): void => void execFileSync('mkfifo', [path]);

/** Mounts `dir` onto itself read-only; false (with the reason) where mounting is not allowed. */
export function mountReadOnly(dir: string): { ok: true } | { ok: false; why: string } {
  try {
    execFileSync('mount', ['--bind', dir, dir], { stdio: 'pipe' });
    execFileSync('mount', ['-o', 'remount,ro,bind', dir], { stdio: 'pipe' });
    return { ok: true };
  } catch (e) {
    return { ok: false, why: String((e as { stderr?: Buffer }).stderr ?? (e as Error).message).trim() };
  }
}

export function remountWritable(dir: string): void {
  execFileSync('mount', ['-o', 'remount,rw,bind', dir], { stdio: 'pipe' });
}

export function unmount(dir: string): void {
  try {
    execFileSync('umount', [dir], { stdio: 'pipe' });
  } catch {
    /* not mounted */
  }
}

/** A tiny tmpfs at `dir` (a disk that fills up); false where mounting is not allowed. */
export function mountTiny(dir: string, size: string): { ok: true } | { ok: false; why: string } {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'pipe' });
    return { ok: true };
  } catch (e) {
    return { ok: false, why: String((e as { stderr?: Buffer }).stderr ?? (e as Error).message).trim() };
  }
}
