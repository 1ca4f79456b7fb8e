import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, linkSync, mkdirSync, readFileSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { readModel, writeModel, type ModelProto } from './model-proto';
import { ExternalWriter, externalRef } from './tensor-data';

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

/**
 * Puts the external-data files a derived graph still references (by relative location) beside it,
 * from the source graph's folder. Hard links, not symlinks: onnxruntime 1.29 refuses external data
 * whose resolved path leaves the model's folder. Across filesystems the file is copied (once).
 */
export function linkExternalData(model: ModelProto, srcPath: string, dstDir: string): void {
  const locations = new Set<string>();
  for (const t of model.graph?.initializer ?? []) {
    const loc = externalRef(t)?.location;
    if (loc) locations.add(loc);
  }
  for (const loc of locations) {
    const to = join(dstDir, loc);
    if (existsSync(to)) continue;
    const named = join(dirname(srcPath), loc);
    if (!existsSync(named)) throw new Error(`${srcPath}: its weights live in ${named}, which is missing`);
    const from = realpathSync(named);
    try {
      linkSync(from, to);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EXDEV' && (e as NodeJS.ErrnoException).code !== 'EPERM') throw e;
      copyFileSync(from, to);
    }
  }
}

/**
 * A rewrite of one graph, done once and kept in `dir` (model.onnx + report.json, weights linked):
 * later calls read the report and open the cached graph. `changed` says whether the rewrite did
 * anything; if not, the source graph is used as it is.
 */
export function cachedRewrite<R>(src: string, dir: string, rewrite: (model: ModelProto) => { model: ModelProto; report: R }, changed: (r: R) => boolean): { path: string; report: R } {
  const dst = join(dir, 'model.onnx'), reportFile = join(dir, 'report.json');
  if (existsSync(reportFile)) {
    const report = JSON.parse(readFileSync(reportFile, 'utf8')) as R;
    return { path: changed(report) ? dst : src, report };
  }
  const { model, report } = rewrite(readModel(src));
  if (changed(report)) {
    mkdirSync(dir, { recursive: true });
    linkExternalData(model, src, dir);
    externalizeRewritten(model, join(dir, `${basename(dir)}.data`));
    writeModel(dst, model);
  }
  mkdirSync(dir, { recursive: true });
  writeFileSync(reportFile, JSON.stringify(report));
  return { path: changed(report) ? dst : src, report };
}

/** Inline weights past this size go to external data when the source graph kept its weights outside. */
const INLINE_MAX = 1 << 20;

/**
 * A rewrite of a graph whose weights live outside it (an SD export's model.onnx_data) writes the
 * weights it changed (transposed NHWC convs, packed QKV) inline; for SD1.5 that is ~1 GB of
 * protobuf, past 2 GB in fp32, so those go to one file beside the derived graph. The file is named
 * after the cache folder: a derived graph's own data never shadows its source's (linked beside it).
 */
export function externalizeRewritten(model: ModelProto, dataPath: string, inlineMax = INLINE_MAX): number {
  const inits = model.graph?.initializer ?? [];
  if (!inits.some((t) => externalRef(t))) return 0;
  const out = new ExternalWriter(dataPath);
  let moved = 0;
  model.graph!.initializer = inits.map((t) => {
    if (externalRef(t) || !t.rawData || t.rawData.length < inlineMax) return t;
    moved++;
    const { rawData, ...rest } = t;
    return out.put(rest, rawData);
  });
  out.close();
  return moved;
}
