/**
 * The engine host: a process of its own (Electron utilityProcess, or child_process.fork in serve
 * mode) so that a native crash or GPU out-of-memory takes down only this, never the window or
 * the history. It runs what the supervisor sends, one message schema each way (app/studio.ts).
 */
import { isAbsolute } from 'node:path';
import { LIMITS } from '../../app/limits';
import { fitLatentFactors, latentsToRgb, type LatentFactors } from '../../app/metrics';
import type { ImageRef } from '../../app/run-request';
import { FromEngine, ToEngine, toErrorShape } from '../../app/studio';
import { detectProviders, Engine } from '../../engine/index';

interface Port {
  post(msg: FromEngine): void;
  onMessage(cb: (msg: unknown) => void): void;
}

interface ParentPort {
  postMessage(msg: unknown): void;
  on(event: 'message', cb: (e: { data: unknown }) => void): void;
}

function connect(): Port {
  const parentPort = (process as unknown as { parentPort?: ParentPort }).parentPort; // Electron's utilityProcess
  if (parentPort) return { post: (m) => parentPort.postMessage(m), onMessage: (cb) => parentPort.on('message', (e) => cb(e.data)) };
  if (process.send) {
    process.on('disconnect', () => process.exit(0)); // the host went away: nothing left to serve
    return { post: (m) => process.send!(m), onMessage: (cb) => process.on('message', cb) };
  }
  throw new Error('engine-process: no IPC channel; the studio host starts this process');
}

const port = connect();
const engine = new Engine(process.env.STUDIO_ENGINE_CACHE || undefined);
const running = new Map<number, AbortController>();

/** Test-only faults (STUDIO_TEST_FAULTS=1): a prompt containing the marker crashes or "runs out of memory". */
function injectFault(request: unknown): void {
  if (!process.env.STUDIO_TEST_FAULTS) return;
  const prompt = (request as { params?: { prompt?: string } }).params?.prompt ?? '';
  if (prompt.includes('__crash__')) setTimeout(() => process.abort(), 50);
  if (prompt.includes('__oom__')) throw new Error('CUDA failure 2: out of memory (test fault)');
}

/** Refs arrive resolved by the studio host (main/host/inputs.ts: checked paths inside the workspace). */
function resolveImage(ref: ImageRef): string {
  if ('path' in ref && isAbsolute(ref.path)) return ref.path;
  throw new Error(`engine host: an image ref must arrive as an absolute path the studio host has checked, got ${JSON.stringify(ref)}`);
}

/** Each model's latent -> RGB factors, fitted to its last run's final latents and image (previews then match the result's colours). */
const previewFactors = new Map<string, LatentFactors>();

async function run(runId: number, request: unknown, previews: boolean): Promise<void> {
  const abort = new AbortController();
  const model = String((request as { model?: unknown }).model ?? '');
  let last: { latents: Float32Array; dims: readonly number[] } | undefined;
  running.set(runId, abort);
  try {
    injectFault(request);
    const { result, images } = await engine.run(request, {
      resolveImage,
      signal: abort.signal,
      onEvent: (event) => port.post({ type: 'event', runId, event }),
      onLatents: previews
        ? (step, latents, dims) => {
            last = { latents: Float32Array.from(latents), dims };
            const rgb = latentsToRgb(latents, dims, previewFactors.get(model));
            port.post({ type: 'preview', runId, step, steps: 0, width: rgb.width, height: rgb.height, rgb: rgb.data, latents: last.latents, dims: [...dims] });
          }
        : undefined,
    });
    port.post({ type: 'done', runId, result, images: images.map((i) => ({ width: i.width, height: i.height, data: i.data })) });
    const fit = last && images[0] && fitLatentFactors(last.latents, last.dims, images[0]);
    if (fit) previewFactors.set(model, fit);
  } catch (e) {
    port.post({ type: 'error', runId, error: toErrorShape(e) });
  } finally {
    running.delete(runId);
  }
}

port.onMessage((raw) => {
  const parsed = ToEngine.safeParse(raw);
  if (!parsed.success) {
    console.error(`engine-process: ignoring a malformed message: ${parsed.error.issues[0]?.message}`);
    return;
  }
  const msg = parsed.data;
  if (msg.type === 'run') void run(msg.runId, msg.request, msg.previews);
  else if (msg.type === 'cancel') running.get(msg.runId)?.abort();
  else if (msg.type === 'providers') {
    detectProviders().then(
      (list) => port.post({ type: 'providers', runId: msg.runId, list }),
      (e) => port.post({ type: 'error', runId: msg.runId, error: toErrorShape(e) }),
    );
  }
});

port.post({ type: 'ready', pid: process.pid });
// the supervisor's watchdog restarts an engine host that goes silent while it runs (a hang, SIGSTOP)
setInterval(() => port.post({ type: 'heartbeat' }), LIMITS.engineHeartbeatMs).unref();
