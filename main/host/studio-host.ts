import { mkdirSync } from 'node:fs';
import { parseEvent, type EventName, type PayloadOf } from '../../app/channels';
import { isCancelled } from '../../app/errors';
import type { RunInputs } from '../../app/run-request';
import { axisSpec, planGrid, planMatrix, valueLabel, type PlannedCell } from '../../app/grid';
import type { CompareRequest, EngineState, GridRequest, HistoryManifest, MatrixRequest, SweepRequest } from '../../app/studio';
import { Variant } from '../../app/variant';
import { inspectModel, modelHash } from '../../engine/model/folder'; // no onnxruntime in this process
import { EnginePool } from './engine-pool';
import type { EngineSupervisor, SpawnEngine, SupervisorOptions } from './engine-supervisor';
import { HistoryStore } from './history';
import { InputStore } from './inputs';
import { compareRuns, runCompare } from './jobs/compare';
import { nowIso, type JobContext } from './jobs/context';
import { JobQueue } from './jobs/queue';
import { cellRuns, initialCells, runCells } from './jobs/grid';
import { runSweep, sweepIntervals, sweepRuns } from './jobs/sweep';
import { blindRuns, runBlind } from './jobs/blind';
import type { BlindRequest } from '../../app/blind';
import { ModelRegistry, type ModelPaths } from './models';

export interface HostOptions {
  workspace: string;
  mode: 'electron' | 'serve';
  spawnEngine: SpawnEngine;
  models: ModelPaths;
  version: string;
  /** The engine watchdog's timings (app/limits.ts unless a test shortens them). */
  supervisor?: SupervisorOptions;
}

export type EventListener = <E extends EventName>(event: E, payload: PayloadOf<E>) => void;

/**
 * Everything behind the channel table, whatever the transport: the engine supervisor, the job
 * queue, the history and the model list. Events fan out to every connected transport.
 */
export class StudioHost {
  readonly history: HistoryStore;
  readonly inputs: InputStore;
  readonly models: ModelRegistry;
  /** The default engine process; `engines` also holds those other environments need (TF32 off). */
  readonly engine: EngineSupervisor;
  readonly engines: EnginePool;
  readonly queue: JobQueue;
  engineState: EngineState = { state: 'stopped', restarts: 0 };
  private readonly listeners = new Set<EventListener>();

  constructor(readonly opts: HostOptions) {
    mkdirSync(opts.workspace, { recursive: true });
    this.history = new HistoryStore(opts.workspace).open();
    this.inputs = new InputStore(opts.workspace);
    this.models = new ModelRegistry(opts.models, opts.workspace);
    this.engines = new EnginePool(opts.spawnEngine, (s) => {
      this.engineState = s;
      this.emit('engine.state', s);
    }, opts.supervisor);
    this.engine = this.engines.main;
    this.queue = new JobQueue((info) => this.emit('job.state', info));
  }

  onEvent(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Events are checked against the table on the way out too: a bad one is a host bug, caught here. */
  emit<E extends EventName>(event: E, payload: PayloadOf<E>): void {
    const checked = parseEvent(event, payload);
    for (const l of this.listeners) l(event, checked);
  }

  /** The manifest keeps the refs as asked; the engine host gets them as checked workspace paths. */
  async compare(req: CompareRequest, signal?: AbortSignal): Promise<HistoryManifest> {
    const inputs = this.inputs.resolveAll(req.inputs); // a bad ref fails the call now, before queueing
    const m = this.newManifest(req.jobId, 'compare', req.model, req.params, req.inputs);
    if (req.parent) m.parent = req.parent;
    m.compare = { a: req.a, b: req.b, repeats: req.repeats, runs: [], images: {} };
    const key = { modelHash: await modelHash(inspectModel(req.model)), engine: this.opts.version, params: req.params, inputs: this.inputs.contentHashes(req.inputs), repeats: req.repeats, variant: Variant.parse(req.a) };
    return this.start(m, compareRuns(req), (ctx) => runCompare(ctx, { ...req, inputs }, m, key), signal);
  }

  async sweep(req: SweepRequest, signal?: AbortSignal): Promise<HistoryManifest> {
    const inputs = this.inputs.resolveAll(req.inputs);
    const m = this.newManifest(req.jobId, 'sweep', req.model, req.params, req.inputs);
    m.sweep = { base: req.base, intervals: sweepIntervals(req), branches: req.branches, repeats: req.repeats, points: [] };
    return this.start(m, sweepRuns(req), (ctx) => runSweep(ctx, { ...req, inputs }, m), signal);
  }

  /** X/Y/Z grid; cells are planned (and bad ones refused with the reason) before queueing. */
  async grid(req: GridRequest, signal?: AbortSignal): Promise<HistoryManifest> {
    const cells = planGrid(req.params, req.base, req.axes);
    const axes = req.axes.map((a) => ({ key: a.key, label: axisSpec(a.key).label, values: a.values.map(valueLabel) }));
    return this.cells(req, 'grid', cells, { mode: 'grid', axes }, signal);
  }

  /** Compatibility matrix: the base, each setting alone and every pair; speed-up and SSIM against the base. */
  async matrix(req: MatrixRequest, signal?: AbortSignal): Promise<HistoryManifest> {
    const cells = planMatrix(req.params, req.base, req.settings);
    const labels = req.settings.map((s) => s.label);
    return this.cells(req, 'matrix', cells, { mode: 'matrix', axes: [{ key: 'setting', label: 'option', values: labels }, { key: 'setting', label: 'option', values: labels }], settings: req.settings }, signal);
  }

  private cells(req: GridRequest | MatrixRequest, kind: 'grid' | 'matrix', cells: PlannedCell[], section: Pick<NonNullable<HistoryManifest['grid']>, 'mode' | 'axes' | 'settings'>, signal?: AbortSignal): Promise<HistoryManifest> {
    const inputs = this.inputs.resolveAll(req.inputs);
    const m = this.newManifest(req.jobId, kind, req.model, req.params, req.inputs);
    m.grid = { ...section, base: req.base, repeats: req.repeats, reference: 0, cells: initialCells(cells) };
    const job = { jobId: req.jobId, model: req.model, inputs, cells, repeats: req.repeats };
    return this.start(m, cellRuns(job), (ctx) => runCells(ctx, job, m), signal);
  }

  /** A blind A/B session: every prompt × seed on both variants, sides shuffled per pair. */
  async blind(req: BlindRequest, signal?: AbortSignal): Promise<HistoryManifest> {
    const inputs = this.inputs.resolveAll(req.inputs);
    const m = this.newManifest(req.jobId, 'blind', req.model, { ...req.params, prompt: req.prompts[0]! }, req.inputs);
    m.blind = { a: req.a, b: req.b, prompts: req.prompts, seeds: req.seeds, pairs: [] };
    return this.start(m, blindRuns(req), (ctx) => runBlind(ctx, { ...req, inputs }, m), signal);
  }

  /** Cancels every job, waits for their manifests to be written, stops the engine host. */
  async close(): Promise<void> {
    this.queue.cancelAll();
    await Promise.race([this.queue.idle(), new Promise((r) => setTimeout(r, 10_000))]);
    await this.engines.stop();
  }

  private newManifest(id: string, kind: HistoryManifest['kind'], model: string, params: HistoryManifest['params'], inputs: RunInputs): HistoryManifest {
    const info = inspectModel(model); // a bad folder fails the call now, with the file it lacks
    const m: HistoryManifest = { version: 1, id, kind, createdAt: nowIso(), status: 'queued', model: { dir: info.dir, name: info.name }, params };
    return Object.keys(inputs).length ? { ...m, inputs } : m;
  }

  private async start(m: HistoryManifest, total: number, body: (ctx: JobContext) => Promise<HistoryManifest>, signal?: AbortSignal): Promise<HistoryManifest> {
    this.history.create(m);
    this.emit('history.changed', { id: m.id, removed: false });
    try {
      const done = await this.queue.enqueue({ jobId: m.id, kind: m.kind, total }, (jobSignal, progress) => {
        m.status = 'running';
        this.history.save(m);
        return body({ engine: this.engines, history: this.history, emit: (e, p) => this.emit(e, p), signal: jobSignal, progress });
      }, signal);
      this.history.save(done);
      return done;
    } catch (e) {
      const err = e as Error;
      this.history.save({ ...m, status: isCancelled(err) ? 'cancelled' : 'failed', error: err.message, finishedAt: nowIso() });
      throw e;
    } finally {
      this.emit('history.changed', { id: m.id, removed: false });
    }
  }
}
