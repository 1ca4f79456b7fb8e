import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/** engine ⟂ electron ⟂ react, joined only by app/ (VS Code's layering rule, as a test). */
const ROOT = join(__dirname, '../..');
const RULES: Record<string, RegExp> = {
  app: /^(node:|electron|react|zustand|recharts|onnxruntime|\.\.\/(engine|main|renderer))/,
  engine: /^(electron|react|zustand|recharts|\.\.\/.*(main|renderer)\/)/,
  renderer: /^(node:|electron|onnxruntime|.*\/engine\/|.*\/main\/)/,
  main: /^(react|zustand|recharts|.*\/renderer\/)/,
};

function files(dir: string): string[] {
  try {
    return readdirSync(dir).flatMap((f) => {
      const p = join(dir, f);
      return statSync(p).isDirectory() ? files(p) : /\.(ts|tsx|mts)$/.test(f) ? [p] : [];
    });
  } catch {
    return [];
  }
}

describe('process boundaries', () => {
  for (const [layer, forbidden] of Object.entries(RULES)) {
    it(`${layer}/ imports nothing across its boundary`, () => {
      const bad: string[] = [];
      for (const f of files(join(ROOT, layer))) {
        for (const m of readFileSync(f, 'utf8').matchAll(/(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)) {
          const spec = m[1] ?? m[2]!;
          if (forbidden.test(spec)) bad.push(`${f.slice(ROOT.length + 1)}: ${spec}`);
        }
      }
      expect(bad).toEqual([]);
    });
  }
});
