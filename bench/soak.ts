#!/usr/bin/env node
/**
 * `npm run soak`: 200 runs with varied options on the tiny fixture through the studio host (the
 * engine in its own process, the history on disk), memory and open files of both processes after
 * run 10 and run 200. A benchmark, not a test: it prints a table and writes bench/soak.md.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, platform, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CompareRequest, type CompareRequestInput } from '../app/studio';
import { forkEngine } from '../main/host/spawn-fork';
import { StudioHost } from '../main/host/studio-host';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MODEL = join(ROOT, 'test/fixtures/tiny-sd');
const RUNS = 200, EARLY = 10;

/** Five A/B pairs (ten runs), cycled: every session configuration exists by run 10. */
const PAIRS: Pick<CompareRequestInput, 'a' | 'b'>[] = [
  { a: { label: 'plain' }, b: { label: 'dc2', deepcache: { interval: 2, branch: 0 } } },
  { a: { label: 'fused', fusedAttention: true }, b: { label: 'opt basic', optLevel: 'basic' } },
  { a: { label: 'cfg½', cfgTruncation: 0.5 }, b: { label: 'dc3 nonuniform', deepcache: { interval: 3, branch: 1, schedule: 'nonuniform' } } },
  { a: { label: 'fp16', precision: 'fp16' }, b: { label: 'plain' } },
  { a: { label: 'opt disabled', optLevel: 'disabled' }, b: { label: 'fused dc2', fusedAttention: true, deepcache: { interval: 2, branch: 0 } } },
];
const SCHEDULERS = ['pndm', 'ddim', 'euler', 'euler-a', 'dpmpp-2m'] as const;

interface Sample { run: number; serverRss: number; serverHeap: number; serverBuffers: number; engineRss: number; serverFds: number; engineFds: number }

const rssOf = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;
const fdsOf = (pid: number): number => readdirSync(`/proc/${pid}/fd`).length;

async function main(): Promise<void> {
  const workspace = mkdtempSync(join(tmpdir(), 'studio-soak-'));
  const host = new StudioHost({
    workspace, mode: 'serve', version: 'soak', spawnEngine: forkEngine({ STUDIO_ENGINE_CACHE: join(workspace, '.cache') }),
    models: { embedded: join(workspace, 'none'), fixture: MODEL },
  });
  await host.engine.start();
  const samples: Sample[] = [];
  const t0 = Date.now();
  const load = loadavg()[0]!;
  for (let run = 0; run < RUNS; run += 2) {
    const i = run / 2;
    const req = CompareRequest.parse({
      jobId: `soak-${String(i).padStart(4, '0')}`, model: MODEL, repeats: 1, previews: i % 2 === 0, ...PAIRS[i % PAIRS.length]!,
      params: { prompt: `soak run ${i}`, seed: i, steps: 2 + (i % 3), guidance: i % 4 === 0 ? 0 : 7.5, width: 64, height: 64, scheduler: SCHEDULERS[i % SCHEDULERS.length], batch: 1 + (i % 7 === 0 ? 1 : 0) },
    });
    const m = await host.compare(req);
    if (m.status !== 'done') throw new Error(`soak: ${req.jobId} ended ${m.status}: ${m.error}`);
    if (i % 10 === 0) host.history.delete(req.jobId); // deleting is part of a day's use too
    if (run + 2 === EARLY || run + 2 === RUNS / 2 || run + 2 === RUNS) {
      (globalThis as { gc?: () => void }).gc?.();
      const pid = host.engine.pid!;
      samples.push({ run: run + 2, serverRss: rssOf(process.pid), serverHeap: process.memoryUsage().heapUsed, serverBuffers: process.memoryUsage().arrayBuffers, engineRss: rssOf(pid), serverFds: fdsOf(process.pid), engineFds: fdsOf(pid) });
    }
    if ((run + 2) % 50 === 0) console.error(`soak: ${run + 2}/${RUNS} runs, ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  }
  await host.close();
  rmSync(workspace, { recursive: true, force: true });
  report(samples, (Date.now() - t0) / 1000, load);
}

function report([early, mid, late]: Sample[], seconds: number, load: number): void {
  const mib = (b: number): string => (b / 1024 / 1024).toFixed(1);
  const growth = (a: number, b: number): string => `${(((b - a) / a) * 100).toFixed(1)}%`;
  const row = (label: string, k: keyof Sample, show: (v: number) => string): string[] =>
    [label, show(early![k]), show(mid![k]), show(late![k]), growth(early![k], late![k])];
  const rows = [
    row('server RSS (MiB)', 'serverRss', mib), row('server JS heap used (MiB)', 'serverHeap', mib), row('server ArrayBuffers (MiB)', 'serverBuffers', mib),
    row('engine RSS (MiB)', 'engineRss', mib), row('server open fds', 'serverFds', String), row('engine open fds', 'engineFds', String),
  ];
  const ok = [early!.serverRss / late!.serverRss, early!.engineRss / late!.engineRss].every((r) => 1 / r < 1.05) && late!.serverFds <= early!.serverFds && late!.engineFds <= early!.engineFds;
  const machine = `${cpus()[0]?.model.trim() ?? 'unknown CPU'}, ${cpus().length} logical cores, ${Math.round(totalmem() / 2 ** 30)} GiB, ${platform()}, Node ${process.version}`;
  const table = ['| measure | after run 10 | after run 100 | after run 200 | growth 10 → 200 |', '| --- | --- | --- | --- | --- |', ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
  console.log(table);
  console.log(ok ? 'growth < 5% and no leaked file descriptors' : 'GROWTH OVER 5% or leaked file descriptors');
  writeFileSync(join(ROOT, 'bench/soak.md'), `# Soak: ${RUNS} runs on the tiny fixture through the studio host

Made with \`npm run soak\` on ${new Date().toISOString().slice(0, 10)}: ${RUNS} runs (A/B compares of five option pairs, cycled:
DeepCache, fused attention, graph opt levels, fp16, CFG truncation; schedulers, steps 2-4, guidance 0 or 7.5, batch 1-2,
previews on and off; every tenth entry deleted) on \`test/fixtures/tiny-sd\`, the engine in its own process.
Memory is RSS from /proc/<pid>/status (the server's after a GC), open files count /proc/<pid>/fd.
${seconds.toFixed(0)} s in all; load average when it started: ${load.toFixed(2)} (a shared machine).

Machine: ${machine}

${table}

Verdict: ${ok ? 'growth under 5%, no leaked file descriptors' : 'growth over 5% or leaked file descriptors'}.
`);
}

main().catch((e: Error) => {
  console.error(`soak: ${e.message}`);
  process.exit(1);
});
