import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readFileSync, statSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ModelProto } from './model-proto';

const hashes = new Map<string, string>();

/**
 * A content key for a graph rewrite: SHA-256 of the source graph file (its external weights are
 * covered by the model hash that names cacheDir) plus the rewrite's options. Memoised per file
 * state, so a warm engine does not re-read a multi-GB graph.
 */
export function graphKey(path: string, ...options: string[]): string {
  const st = statSync(path);
  const id = `${path}\0${st.size}\0${st.mtimeMs}`;
  let h = hashes.get(id);
  if (!h) {
    h = createHash('sha256').update(readFileSync(path)).digest('hex');
    hashes.set(id, h);
  }
  return createHash('sha256').update(h).update(options.join('\0')).digest('hex').slice(0, 16);
}

/** Links the external-data files a derived graph still references (by relative location) from the source graph's folder. */
export function linkExternalData(model: ModelProto, srcPath: string, dstDir: string): void {
  const locations = new Set<string>();
  for (const t of model.graph?.initializer ?? []) {
    if (t.dataLocation !== 1) continue;
    const loc = (t.externalData ?? []).find((e) => e.key === 'location')?.value;
    if (loc) locations.add(loc);
  }
  for (const loc of locations) {
    const from = join(dirname(srcPath), loc), to = join(dstDir, loc);
    if (existsSync(to) || lstatExists(to)) continue;
    if (!existsSync(from)) throw new Error(`${srcPath}: its weights live in ${from}, which is missing`);
    symlinkSync(from, to);
  }
}

const lstatExists = (p: string) => {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
};
