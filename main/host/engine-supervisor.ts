import { readFileSync } from 'node:fs';
import type { RunEvent, RunResult } from '../../app/contract';
import { CancelledError } from '../../app/errors';
import { LIMITS } from '../../app/limits';
import { FromEngine, fromErrorShape, type EngineState, type ProviderStatus, type ToEngine } from '../../app/studio';

/** The engine host process as the supervisor sees it; fork and utilityProcess each implement it. */
export interface EngineChild {
  readonly pid: number | undefined;
  post(msg: ToEngine): void;
  onMessage(cb: (msg: unknown) => void): void;
  onExit(cb: (code: number | null, signal: string | null) => void): void;
  onStderr(cb: (text: string) => void): void;
  /** SIGTERM unless told; the watchdog sends SIGKILL (a stopped process gets nothing else). */
  kill(signal?: 'SIGTERM' | 'SIGKILL'): void;
}
/** Starts an engine host; `env` adds to the host's environment (engine-pool.ts: TF32 off). */
export type SpawnEngine = (env?: Record<string, string>) => EngineChild;

export interface EngineImage {
  width: number;
  height: number;
  data: Float32Array;
}

export interface Preview {
  step: number;
  width: number;
  height: number;
  rgb: Uint8Array;
  /** The step's latents (NCHW, `dims`), when the engine host sent them. */
  latents?: Float32Array;
  dims?: number[];
}

export interface RunHooks {
  signal?: AbortSignal;
  onEvent?: (e: RunEvent) => void;
  onPreview?: (p: Preview) => void;
}

export class EngineCrashedError extends Error {
  override name = 'EngineCrashedError';
}
export class EngineOutOfMemoryError extends Error {
  override name = 'EngineOutOfMemoryError';
}
export class EngineHungError extends Error {
  override name = 'EngineHungError';
}

export interface SupervisorOptions {
  /** A run with no message from the engine host for this long: kill it, restart, fail the run. */
  silenceMs?: number;
  /** How long a cancelled run may take to stop before the engine host is treated as hung. */
  cancelGraceMs?: number;
}

/** CPU time (user + system, in clock ticks) of a process, where /proc tells it (Linux). */
function cpuTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields from the 3rd (state) on
    return Number(f[11]) + Number(f[12]);
  } catch {
    return undefined;
  }
}

const OOM = /out of memory|CUDA_ERROR_OUT_OF_MEMORY|failed to allocate memory|bad_alloc|OOM/i;

interface Pending {
  resolve(v: unknown): void;
  reject(e: Error): void;
  hooks: RunHooks;
  /** Runs are watched for silence; a providers probe is not. */
  watched: boolean;
  cancelled?: boolean;
}

/**
 * Starts the engine host, sends it runs, and restarts it when it dies (crash) or runs out of GPU
 * memory; calls in flight fail with a message the UI shows. Knows nothing of the transport.
 */
export class EngineSupervisor {
  private child?: EngineChild;
  private ready?: Promise<void>;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private stderrTail = '';
  private stopping = false;
  private restarts = 0;
  /** Children we ended on purpose: their exit is not a crash. */
  private readonly retired = new WeakSet<EngineChild>();
  private lastHeard = 0;
  private watchdog?: NodeJS.Timeout;
  private readonly silenceMs: number;
  private readonly cancelGraceMs: number;

  constructor(private readonly spawn: SpawnEngine, private readonly onState: (s: EngineState) => void = () => {}, o: SupervisorOptions = {}) {
    this.silenceMs = o.silenceMs ?? LIMITS.engineSilenceMs;
    this.cancelGraceMs = o.cancelGraceMs ?? Math.min(5000, this.silenceMs);
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(message?: string): Promise<void> {
    if (this.ready) return this.ready;
    this.stopping = false;
    this.onState({ state: 'starting', restarts: this.restarts, message });
    const child = this.spawn();
    this.child = child;
    this.stderrTail = '';
    this.ready = new Promise<void>((resolve, reject) => {
      let up = false;
      child.onStderr((t) => (this.stderrTail = (this.stderrTail + t).slice(-4000)));
      child.onMessage((raw) => {
        if (this.child === child) this.lastHeard = Date.now();
        const parsed = FromEngine.safeParse(raw);
        if (!parsed.success) return console.error(`engine host sent a malformed message: ${parsed.error.issues[0]?.message}`);
        const msg = parsed.data;
        if (msg.type === 'heartbeat') return;
        if (msg.type === 'ready') {
          up = true;
          this.onState({ state: 'ready', restarts: this.restarts, message });
          return resolve();
        }
        this.receive(msg);
      });
      child.onExit((code, signal) => {
        if (this.child !== child || this.retired.has(child)) return;
        this.child = undefined;
        this.ready = undefined;
        if (this.stopping) return;
        const why = this.describeExit(code, signal);
        if (!up) {
          this.onState({ state: 'crashed', restarts: this.restarts, message: `the engine host did not start: ${why}` });
          return reject(new EngineCrashedError(`the engine host did not start: ${why}`));
        }
        this.failAll(new EngineCrashedError(`the engine process crashed (${why}); it was restarted and the run history is safe`));
        this.restarts++;
        this.start(`restarted after a crash (${why})`).catch(() => undefined);
      });
    });
    return this.ready;
  }

  async run(request: unknown, hooks: RunHooks = {}, previews = true): Promise<{ result: RunResult; images: EngineImage[] }> {
    const v = (await this.send({ type: 'run', runId: 0, request, previews }, hooks)) as { result: RunResult; images: EngineImage[] };
    return v;
  }

  async providers(): Promise<ProviderStatus[]> {
    return (await this.send({ type: 'providers', runId: 0 }, {})) as ProviderStatus[];
  }

  /** Stops the engine host for good (until start()); calls in flight fail. */
  async stop(): Promise<void> {
    this.stopping = true;
    const child = this.child;
    if (child) this.retired.add(child);
    this.child = undefined;
    this.ready = undefined;
    this.failAll(new EngineCrashedError('the engine host was stopped'));
    if (!child) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 3000);
      child.onExit(() => {
        clearTimeout(t);
        resolve();
      });
      child.kill();
    });
    this.onState({ state: 'stopped', restarts: this.restarts });
  }

  private async send(msg: ToEngine, hooks: RunHooks): Promise<unknown> {
    if (hooks.signal?.aborted) throw new CancelledError();
    await this.start();
    if (hooks.signal?.aborted) throw new CancelledError();
    const child = this.child!;
    const runId = this.nextId++;
    return new Promise((resolve, reject) => {
      let grace: NodeJS.Timeout | undefined;
      // a hung engine never confirms a cancel: after the grace period it is restarted, which frees the queue
      const onAbort = (): void => {
        const p = this.pending.get(runId);
        if (p) p.cancelled = true;
        this.post(child, { type: 'cancel', runId });
        grace = setTimeout(() => this.pending.has(runId) && this.child === child && this.restartHung(child, 'did not stop a cancelled run'), this.cancelGraceMs);
      };
      hooks.signal?.addEventListener('abort', onAbort, { once: true });
      const done = <T>(f: (v: T) => void) => (v: T): void => {
        hooks.signal?.removeEventListener('abort', onAbort);
        clearTimeout(grace);
        this.pending.delete(runId);
        if (this.pending.size === 0 && this.child === child) this.onState({ state: 'ready', restarts: this.restarts });
        if (![...this.pending.values()].some((p) => p.watched)) this.watch(false);
        f(v);
      };
      this.pending.set(runId, { resolve: done(resolve), reject: done(reject), hooks, watched: msg.type === 'run' });
      if (msg.type === 'run') {
        if (this.pending.size === 1) this.onState({ state: 'busy', restarts: this.restarts });
        this.lastHeard = Date.now();
        this.watch(true);
      }
      this.post(child, { ...msg, runId });
    });
  }

  /** A post to a child that just died (EPIPE) is not an error of ours: its exit fails the calls. */
  private post(child: EngineChild, msg: ToEngine): void {
    try {
      child.post(msg);
    } catch (e) {
      console.error(`engine host: could not send ${msg.type}: ${(e as Error).message}`);
    }
  }

  /** The watchdog: while runs are in flight, an engine host silent for silenceMs is hung. */
  private watch(on: boolean): void {
    if (!on) {
      clearInterval(this.watchdog);
      this.watchdog = undefined;
      return;
    }
    let cpu = this.child?.pid ? cpuTicks(this.child.pid) : undefined, cpuMoved = Date.now();
    this.watchdog ??= setInterval(() => {
      const child = this.child;
      if (!child) return;
      // a native call (session creation, a long step) blocks the engine's event loop but not its CPU
      const now = child.pid ? cpuTicks(child.pid) : undefined;
      if (now !== cpu) [cpu, cpuMoved] = [now, Date.now()];
      const quiet = Date.now() - Math.max(this.lastHeard, cpu === undefined ? 0 : cpuMoved);
      if (quiet > this.silenceMs) this.restartHung(child, `sent nothing and used no CPU for ${Math.round(this.silenceMs / 1000)} s`);
    }, Math.max(50, Math.min(1000, this.silenceMs / 4)));
    this.watchdog.unref();
  }

  private restartHung(child: EngineChild, why: string): void {
    if (this.child !== child) return;
    this.watch(false);
    this.retired.add(child);
    this.child = undefined;
    this.ready = undefined;
    const e = new EngineHungError(`the engine stopped responding (it ${why}); it was killed and restarted`);
    for (const p of [...this.pending.values()]) p.reject(p.cancelled ? new CancelledError() : e);
    this.pending.clear();
    child.kill('SIGKILL');
    this.restarts++;
    this.start(`restarted after it stopped responding (it ${why})`).catch(() => undefined);
  }

  private receive(msg: FromEngine): void {
    if (msg.type === 'ready' || msg.type === 'heartbeat') return;
    const p = this.pending.get(msg.runId);
    if (!p) return;
    if (msg.type === 'event') p.hooks.onEvent?.(msg.event);
    else if (msg.type === 'preview') p.hooks.onPreview?.({ step: msg.step, width: msg.width, height: msg.height, rgb: msg.rgb, latents: msg.latents, dims: msg.dims });
    else if (msg.type === 'done') p.resolve({ result: msg.result, images: msg.images });
    else if (msg.type === 'providers') p.resolve(msg.list);
    else if (msg.type === 'error') {
      const e = fromErrorShape(msg.error);
      if (OOM.test(e.message)) {
        p.reject(new EngineOutOfMemoryError(`the engine ran out of memory (${e.message.split('\n')[0]}); the engine host was restarted to free it. Try a smaller size or batch, or fp16`));
        void this.restartAfterOom();
      } else p.reject(e);
    }
  }

  /** Memory a provider has grabbed is only surely given back by ending the process. */
  private async restartAfterOom(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.retired.add(child);
    this.child = undefined;
    this.ready = undefined;
    this.failAll(new EngineOutOfMemoryError('the engine host was restarted after running out of memory'));
    child.kill();
    this.restarts++;
    await this.start('restarted after running out of memory').catch(() => undefined);
  }

  private failAll(e: Error): void {
    this.watch(false);
    for (const p of [...this.pending.values()]) p.reject(e);
    this.pending.clear();
  }

  private describeExit(code: number | null, signal: string | null): string {
    // the last line that reads like a reason (native stack traces are noise here)
    const reason = this.stderrTail.replace(/\x1b\[[0-9;]*m/g, '').split('\n').map((l) => l.trim())
      .filter((l) => /error|fatal|abort|memory|exception/i.test(l) && !/\[[EWIV]:onnxruntime/.test(l)).at(-1);
    return `${signal ? `signal ${signal}` : `exit code ${code}`}${reason ? `: ${reason.slice(0, 300)}` : ''}`;
  }
}

