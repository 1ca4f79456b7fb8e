import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { HistoryManifest } from '../../app/studio';
import { TMP_MARK, writeFileAtomic } from '../../main/host/atomic';
import { HistoryStore } from '../../main/host/history';

const ROOT = join(__dirname, '../..');
const ws = (): string => mkdtempSync(join(tmpdir(), 'studio-history-'));

function manifest(id: string, patch: Partial<HistoryManifest> = {}): HistoryManifest {
  return {
    version: 1, id, kind: 'compare', createdAt: new Date().toISOString(), status: 'running', model: { dir: '/m', name: 'm' },
    params: { prompt: 'a cat', negativePrompt: '', seed: 1, steps: 4, guidance: 7.5, batch: 1 },
    compare: { a: variant('A'), b: variant('B'), repeats: 1, runs: [], images: {} },
    ...patch,
  };
}
const variant = (label: string) => ({ label, provider: 'cpu' as const, allowFallback: false, precision: 'fp32' as const, optLevel: 'all' as const, fusedAttention: false, loras: [], cfgTruncation: 1, tf32: true, stepInGraph: 'auto' as const });

describe('history store', () => {
  it('creates, lists newest first, reads back and deletes entries', () => {
    const h = new HistoryStore(ws()).open();
    h.create(manifest('aaaaaa-1', { createdAt: '2025-01-01T00:00:00Z', status: 'done' }));
    h.create(manifest('bbbbbb-2', { createdAt: '2025-02-01T00:00:00Z', status: 'done' }));
    h.writeFile('aaaaaa-1', 'a.png', new Uint8Array([1, 2, 3]));
    expect(h.list().map((e) => e.id)).toEqual(['bbbbbb-2', 'aaaaaa-1']);
    expect(h.get('aaaaaa-1').params.prompt).toBe('a cat');
    h.delete('aaaaaa-1');
    expect(h.list().map((e) => e.id)).toEqual(['bbbbbb-2']);
    expect(() => h.get('aaaaaa-1')).toThrow('no entry aaaaaa-1');
  });

  it('never resolves a file outside its entry', () => {
    const h = new HistoryStore(ws()).open();
    h.create(manifest('cccccc-3'));
    for (const bad of ['../manifest.json', '../../x.png', 'sweep/../../x.png', '/etc/passwd', '.hidden.png', 'a.png\0.png', 'a.exe', 'x/y/z.png']) {
      expect(() => h.filePath('cccccc-3', bad), bad).toThrow();
    }
    expect(() => h.filePath('../cccccc-3', 'a.png')).toThrow();
    expect(h.filePath('cccccc-3', 'sweep/i3-b0.png')).toBe(join(h.runs, 'cccccc-3', 'sweep', 'i3-b0.png'));
  });

  it('on start, an entry cut off while running is kept and marked interrupted; temp files go', () => {
    const dir = ws();
    const h = new HistoryStore(dir).open();
    h.create(manifest('dddddd-4', { status: 'running' }));
    writeFileSync(join(h.runs, 'dddddd-4', `manifest.json${TMP_MARK}999-0`), '{"half": ');
    const again = new HistoryStore(dir).open();
    const m = again.get('dddddd-4');
    expect(m.status).toBe('interrupted');
    expect(m.error).toMatch(/stopped while this job was running/);
    expect(readdirSync(join(h.runs, 'dddddd-4'))).toEqual(['manifest.json']);
  });

  it('skips an unreadable manifest instead of failing the whole list', () => {
    const h = new HistoryStore(ws()).open();
    h.create(manifest('eeeeee-5', { status: 'done' }));
    h.create(manifest('ffffff-6', { status: 'done' }));
    writeFileSync(join(h.runs, 'ffffff-6', 'manifest.json'), '{ not json');
    const warn = console.warn;
    console.warn = () => {};
    expect(h.list().map((e) => e.id)).toEqual(['eeeeee-5']);
    console.warn = warn;
  });
});

describe('atomic writes', () => {
  it('replace the file whole', () => {
    const p = join(ws(), 'f.json');
    writeFileAtomic(p, 'one');
    writeFileAtomic(p, 'two');
    expect(readFileSync(p, 'utf8')).toBe('two');
    expect(readdirSync(join(p, '..'))).toEqual(['f.json']);
  });

  it('survive a writer killed at random moments: the file is always the old or the new version, whole', async () => {
    const dir = ws();
    const target = join(dir, 'manifest.json');
    const script = join(dir, 'writer.mts');
    // a writer that rewrites a ~1 MB manifest as fast as it can, each version self-checking
    writeFileSync(script, `import { writeJsonAtomic } from ${JSON.stringify(join(ROOT, 'main/host/atomic.ts'))};
      for (let v = 0; ; v++) writeJsonAtomic(${JSON.stringify(target)}, { v, pad: 'x'.repeat(1_000_000), check: v * 7 });`);
    writeFileAtomic(target, JSON.stringify({ v: -1, pad: '', check: -7 }));
    const seen: number[] = [];
    for (let round = 0; round < 5; round++) {
      const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: ROOT, stdio: 'ignore' });
      await new Promise((r) => setTimeout(r, 900 + Math.random() * 600));
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      const m = JSON.parse(readFileSync(target, 'utf8')) as { v: number; check: number };
      expect(m.check).toBe(m.v * 7);
      seen.push(m.v);
    }
    expect(Math.max(...seen)).toBeGreaterThan(0); // the writer did get going before it was killed
    const h = new HistoryStore(dir);
    expect(existsSync(target)).toBe(true);
    expect(() => h.open()).not.toThrow();
  }, 30_000);
});
