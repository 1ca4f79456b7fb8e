import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../engine/engine';
import { ENGINE_CASES, modelCopy } from './support/engine-cases';

const root = mkdtempSync(join(tmpdir(), 'engine-corpus-'));
const engine = new Engine(join(root, 'cache'));
let goodModel = '';
beforeAll(() => {
  goodModel = modelCopy(join(root, 'good'));
});
afterAll(async () => {
  await engine.release();
  rmSync(root, { recursive: true, force: true });
});

/**
 * A reader wrongly blocked on a named pipe holds its thread for good: this separate process opens
 * every pipe under `dir` once the case's bound has passed, so a regression fails the case (late,
 * with EOF) instead of hanging the suite.
 */
function unjam(dir: string, afterMs: number): () => void {
  const child = spawn('sh', ['-c', `sleep ${afterMs / 1000}; find "$0" -type p | while read -r f; do exec 3<>"$f"; exec 3>&-; done`, dir], { stdio: 'ignore' });
  return () => child.kill();
}

describe('engine corpus (issue 11): no bad file hangs or fools the engine; each case names what is wrong', () => {
  it('holds at least 40 cases', () => expect(ENGINE_CASES.length).toBeGreaterThanOrEqual(40));
  for (const c of ENGINE_CASES) {
    const label = `${c.group}: ${c.name}${c.dependsOn ? ` (needs ${c.dependsOn})` : ''}`;
    // CLI cases are separate processes: run side by side
    (c.group === 'cli' ? it.concurrent : it)(label, async () => {
      const dir = mkdtempSync(join(root, 'case-'));
      const release = unjam(dir, c.withinMs + 500);
      const t0 = performance.now();
      const outcome = await c.run({ dir, engine, goodModel }).then(() => 'ok', (e: Error) => e.message);
      const ms = performance.now() - t0;
      release();
      if (c.expect === 'ok') expect(outcome).toBe('ok');
      else expect(outcome).toMatch(c.expect);
      expect(ms, `${c.name} took ${ms.toFixed(0)} ms`).toBeLessThan(c.withinMs);
    }, c.withinMs + 15_000);
  }
});
