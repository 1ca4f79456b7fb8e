import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Handlers } from '../../app/channels';
import type { ProviderStatus } from '../../app/studio';
import { loadClipTokenizer, type ClipTokenizer } from '../../engine/tokenizer/clip';
import { buildReport } from './report';
import { voteBlind } from './jobs/blind';
import type { StudioHost } from './studio-host';

const MIME: Record<string, string> = { png: 'image/png', html: 'text/html', json: 'application/json', bin: 'application/octet-stream' };

function ortVersion(): string {
  try {
    return (createRequire(import.meta.url)('onnxruntime-node/package.json') as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** The one handler table: every command of app/channels.ts, whichever transport carried it. */
export function createHandlers(host: StudioHost): Handlers {
  let providers: Promise<ProviderStatus[]> | undefined;
  const tokenizers = new Map<string, ClipTokenizer>();
  return {
    'studio.info': async () => ({ mode: host.opts.mode, workspace: host.opts.workspace, version: host.opts.version, engine: host.engineState }),
    'studio.about': async () => {
      const model = host.models.defaultModel();
      const licenses = join(host.opts.models.embedded, 'LICENSES.md');
      return {
        licenses: existsSync(licenses) ? readFileSync(licenses, 'utf8') : null,
        model: model.note ? `${model.name} (${model.note})` : model.name,
        versions: { studio: host.opts.version, node: process.versions.node, electron: process.versions.electron ?? '-', 'onnxruntime-node': ortVersion() },
      };
    },
    'providers.list': () => {
      providers ??= host.engine.providers().catch((e: Error) => {
        providers = undefined; // probe again next time (the engine host may have been restarting)
        throw e;
      });
      return providers;
    },
    'models.list': async () => host.models.list(),
    'models.add': async ({ path }) => host.models.add(path),
    'prompt.tokens': async ({ model, text }) => {
      // only a listed model's tokenizer is read: a client cannot point the host at any folder
      const dir = host.models.list().find((m) => m.dir === model)?.dir;
      if (!dir) throw new Error(`${model}: not one of the studio's models`);
      let tok = tokenizers.get(dir);
      if (!tok) tokenizers.set(dir, (tok = loadClipTokenizer(join(dir, 'tokenizer'))));
      return { count: tok.count(text), max: tok.maxLength, dropped: tok.dropped(text) };
    },
    'models.remove': async ({ dir }) => {
      host.models.remove(dir);
      return { ok: true as const };
    },
    'inputs.upload': async ({ png }) => host.inputs.put(Buffer.from(png, 'base64')),
    'inputs.get': async ({ ref }) => host.inputs.read(ref),
    'jobs.compare': (req, signal) => host.compare(req, signal),
    'jobs.sweep': (req, signal) => host.sweep(req, signal),
    'jobs.grid': (req, signal) => host.grid(req, signal),
    'jobs.matrix': (req, signal) => host.matrix(req, signal),
    'jobs.blind': (req, signal) => host.blind(req, signal),
    'blind.vote': async ({ id, pair, vote, ms }) => {
      if (host.queue.list().some((j) => j.jobId === id)) throw new Error('this session is still running: vote once its pairs are made');
      const m = voteBlind(host.history, id, pair, vote, ms);
      host.emit('history.changed', { id, removed: false });
      return m;
    },
    'jobs.cancel': async ({ jobId }) => ({ cancelled: host.queue.cancel(jobId) }),
    'jobs.list': async () => host.queue.list(),
    'history.list': async () => host.history.list(),
    'history.get': async ({ id }) => host.history.get(id),
    'history.file': async ({ id, file }) => {
      return { dataUrl: `data:${MIME[file.split('.').pop()!]};base64,${host.history.readFile(id, file).toString('base64')}` };
    },
    'history.delete': async ({ id }) => {
      if (host.queue.list().some((j) => j.jobId === id)) throw new Error('this job is still queued or running: cancel it first');
      host.history.delete(id);
      host.emit('history.changed', { id, removed: true });
      return { ok: true as const };
    },
    'history.export': async ({ id }) => {
      const html = buildReport(host.history, host.history.get(id), host.inputs);
      const path = host.history.writeFile(id, 'report.html', html);
      return { html, path };
    },
  };
}
