import type { RunEvent, RunResult } from '../../app/contract';
import { CancelledError } from '../../app/errors';
import { FromEngine, fromErrorShape, type EngineState, type ProviderStatus, type ToEngine } from '../../app/studio';

/** The engine host process as the supervisor sees it; fork and utilityProcess each implement it. */
export interface EngineChild {
  readonly pid: number | undefined;
  post(msg: ToEngine): void;
  onMessage(cb: (msg: unknown) => void): void;
  onExit(cb: (code: number | null, signal: string | null) => void): void;
  onStderr(cb: (text: string) => void): void;
  kill(): void;
}
export type SpawnEngine = () => EngineChild;

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

const OOM = /out of memory|CUDA_ERROR_OUT_OF_MEMORY|failed to allocate memory|bad_alloc|OOM/i;

interface Pending {
  resolve(v: unknown): void;
  reject(e: Error): void;
  hooks: RunHooks;
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

  constructor(private readonly spawn: SpawnEngine, private readonly onState: (s: EngineState) => void = () => {}) {}

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
        const parsed = FromEngine.safeParse(raw);
        if (!parsed.success) return console.error(`engine host sent a malformed message: ${parsed.error.issues[0]?.message}`);
        const msg = parsed.data;
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
      const onAbort = (): void => child.post({ type: 'cancel', runId });
      hooks.signal?.addEventListener('abort', onAbort, { once: true });
      const done = <T>(f: (v: T) => void) => (v: T): void => {
        hooks.signal?.removeEventListener('abort', onAbort);
        this.pending.delete(runId);
        if (this.pending.size === 0 && this.child === child) this.onState({ state: 'ready', restarts: this.restarts });
        f(v);
      };
      this.pending.set(runId, { resolve: done(resolve), reject: done(reject), hooks });
      if (msg.type === 'run' && this.pending.size === 1) this.onState({ state: 'busy', restarts: this.restarts });
      child.post({ ...msg, runId });
    });
  }

  private receive(msg: FromEngine): void {
    if (msg.type === 'ready') return;
    const p = this.pending.get(msg.runId);
    if (!p) return;
    if (msg.type === 'event') p.hooks.onEvent?.(msg.event);
    else if (msg.type === 'preview') p.hooks.onPreview?.({ step: msg.step, width: msg.width, height: msg.height, rgb: msg.rgb });
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

