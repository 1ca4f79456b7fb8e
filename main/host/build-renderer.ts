import { existsSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';

function newest(path: string): number {
  if (!existsSync(path)) return 0;
  const s = statSync(path);
  if (!s.isDirectory()) return s.mtimeMs;
  return readdirSync(path).reduce((m, f) => Math.max(m, newest(join(path, f))), 0);
}

/**
 * Builds the renderer with vite when dist/renderer is missing or older than its sources, so
 * `npm run serve` from a checkout always serves what is there. Packaged apps ship it built.
 * The build goes to a folder of its own and is swapped in whole: vite empties its outDir first,
 * and a second process building at once (two serve modes, parallel e2e files) would otherwise
 * delete the chunks a page already open loads later (its metrics worker: seen as a verdict that
 * never came).
 */
export async function ensureRenderer(root: string, log: (s: string) => void = console.error): Promise<string> {
  const out = join(root, 'dist', 'renderer');
  const built = existsSync(join(out, 'index.html')) ? statSync(join(out, 'index.html')).mtimeMs : 0;
  const sources = Math.max(newest(join(root, 'renderer')), newest(join(root, 'app')), newest(join(root, 'vite.config.ts')));
  if (built && built >= sources) return out;
  if (!existsSync(join(root, 'vite.config.ts'))) throw new Error(`${out}: the renderer is not built and vite.config.ts is missing`);
  log('building the renderer (vite)…');
  const vite = await import('vite');
  const staging = `${out}.build-${process.pid}`, old = `${out}.old-${process.pid}`;
  try {
    await vite.build({ configFile: join(root, 'vite.config.ts'), root: join(root, 'renderer'), logLevel: 'warn', build: { outDir: staging, emptyOutDir: true } });
    if (existsSync(out)) renameSync(out, old);
    renameSync(staging, out);
  } finally {
    rmSync(staging, { recursive: true, force: true });
    rmSync(old, { recursive: true, force: true });
  }
  return out;
}
