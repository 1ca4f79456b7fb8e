import { existsSync, readdirSync, statSync } from 'node:fs';
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
 */
export async function ensureRenderer(root: string, log: (s: string) => void = console.error): Promise<string> {
  const out = join(root, 'dist', 'renderer');
  const built = existsSync(join(out, 'index.html')) ? statSync(join(out, 'index.html')).mtimeMs : 0;
  const sources = Math.max(newest(join(root, 'renderer')), newest(join(root, 'app')), newest(join(root, 'vite.config.ts')));
  if (built && built >= sources) return out;
  if (!existsSync(join(root, 'vite.config.ts'))) throw new Error(`${out}: the renderer is not built and vite.config.ts is missing`);
  log('building the renderer (vite)…');
  const vite = await import('vite');
  await vite.build({ configFile: join(root, 'vite.config.ts'), root: join(root, 'renderer'), logLevel: 'warn' });
  return out;
}
