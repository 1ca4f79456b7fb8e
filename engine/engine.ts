import { mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { describeIssues, type RunResult } from '../app/contract';
import { RefusedError } from '../app/errors';
import { RunRequest, type ImageRef, type RunInputs } from '../app/run-request';
import type { Variant } from '../app/variant';
import type { LoopContext, PrepareContext } from './accelerations/acceleration';
import { describeVariant, enabledFor, sessionKey, validateVariant } from './accelerations/registry';
import { readPng } from './image/png';
import type { RgbImage } from './image/rgb';
import { GRAPH_COMPONENTS, inspectModel, loadModel, modelHash, type LoadedModel } from './model/model';
import type { GenerateOptions, PipelineImages } from './pipeline/pipeline';
import { checkImages, pipelineFor } from './pipeline/pipelines/registry';

interface Prepared {
  model: LoadedModel;
  provider: string;
  fellBack: boolean;
  prepareMs: number;
  prepareSteps: Record<string, number>;
  notes: Record<string, string>;
  runs: number;
  hash: string;
}

export interface RunOptions extends Pick<GenerateOptions, 'signal' | 'onEvent' | 'onLatents'> {
  /** Where an image ref's PNG lies (absolute path). Default: `{path}` as given, `{sha256}` refused (no image store). */
  resolveImage?: (ref: ImageRef) => string;
}

const defaultResolver = (ref: ImageRef): string => {
  if ('path' in ref) return ref.path;
  throw new Error(`image sha256:${ref.sha256.slice(0, 12)}…: no image store here (give a path, or run through the studio, whose workspace stores uploads)`);
};

/**
 * Runs variants: prepares each one's graphs and sessions once (kept warm for the next run, a few
 * at a time), then generates with the pipeline the folder names. Knows nothing of Electron or the UI.
 */
export class Engine {
  private readonly prepared = new Map<string, Promise<Prepared>>();

  constructor(readonly cacheRoot = join(homedir(), '.cache', 'diffusion-ab-studio'), private readonly keepWarm = 4) {}

  async run(request: unknown, opts: RunOptions = {}): Promise<{ result: RunResult; images: RgbImage[] }> {
    const parsed = RunRequest.safeParse(request);
    if (!parsed.success) throw new RefusedError(`invalid run request: ${describeIssues(parsed.error)}`);
    const { model: dir, variant, inputs } = parsed.data;
    const params = enabledFor(variant).reduce((p, a) => a.adjustParams?.(p, variant) ?? p, parsed.data.params);
    validateVariant(variant);
    const images = readImages(inputs, opts.resolveImage ?? defaultResolver);
    const key = sessionKey(dir, variant);
    let entry = this.prepared.get(key);
    if (!entry) {
      entry = this.prepare(dir, variant);
      this.prepared.set(key, entry);
      entry.catch(() => this.prepared.delete(key));
      await this.evict();
    }
    const p = await entry;
    const pipeline = pipelineFor(p.model);
    checkImages(pipeline, Object.keys(inputs));
    const firstRun = p.runs++ === 0;
    const accs = enabledFor(variant);
    const fullSteps = new Set<number>();
    const res = await pipeline.run(p.model, params, {
      ...images, signal: opts.signal, onEvent: opts.onEvent, onLatents: opts.onLatents,
      loop: {
        wrap: (next, info) => {
          const ctx: LoopContext = { ...info, variant, fullSteps };
          return accs.reduce((fn, a) => a.wrapDenoiser?.(fn, ctx) ?? fn, next);
        },
        keepGuidance: (i, n) => accs.every((a) => a.keepGuidance?.(i, n, variant) ?? true),
      },
    });
    const steps = res.timings.stepMs.length;
    const full = fullSteps.size ? [...fullSteps].sort((a, b) => a - b) : Array.from({ length: steps }, (_, i) => i);
    const result: RunResult = {
      provider: p.provider, fellBack: p.fellBack, params: res.params, timings: res.timings,
      prepareMs: firstRun ? p.prepareMs : 0, prepareSteps: firstRun ? p.prepareSteps : {}, firstRun, fullSteps: full, summary: describeVariant(variant, p.notes),
      model: { dir: p.model.dir, name: p.model.name, hash: p.hash },
    };
    return { result, images: res.images };
  }

  private async prepare(dir: string, variant: Variant): Promise<Prepared> {
    const t0 = performance.now();
    const info = inspectModel(dir);
    pipelineFor(info); // an unknown class or a missing component fails before any graph work
    const hash = await modelHash(info);
    const cacheDir = join(this.cacheRoot, hash);
    mkdirSync(cacheDir, { recursive: true });
    const graphs = Object.fromEntries(GRAPH_COMPONENTS.flatMap((c) => (info.components[c] ? [[c, info.components[c].file!]] : [])));
    const ctx: PrepareContext = { variant, modelDir: info.dir, sessionOptions: {}, graphOptions: {}, cacheDir, graphs, provider: 'cpu', fellBack: false, timings: {}, notes: {} };
    for (const a of enabledFor(variant)) await a.prepare?.(ctx);
    const t1 = performance.now();
    const model = await loadModel(info.dir, ctx.sessionOptions, ctx.graphs, ctx.graphOptions);
    ctx.timings.sessionsMs = performance.now() - t1;
    return { model, provider: ctx.provider, fellBack: ctx.fellBack, prepareMs: performance.now() - t0, prepareSteps: ctx.timings, notes: ctx.notes, runs: 0, hash };
  }

  /** Keeps the most recent few variants warm; older sessions are released. */
  private async evict(): Promise<void> {
    while (this.prepared.size > this.keepWarm) {
      const [key, old] = this.prepared.entries().next().value as [string, Promise<Prepared>];
      this.prepared.delete(key);
      await old.then((p) => p.model.release(), () => undefined);
    }
  }

  async release(): Promise<void> {
    const all = [...this.prepared.values()];
    this.prepared.clear();
    await Promise.all(all.map((p) => p.then((x) => x.model.release(), () => undefined)));
  }
}

/** Each ref resolved to a PNG and decoded; an error names the input (the resolver or reader names the file). */
function readImages(inputs: RunInputs, resolveImage: (ref: ImageRef) => string): PipelineImages {
  const out: PipelineImages = {};
  for (const [k, ref] of Object.entries(inputs) as [keyof RunInputs, ImageRef][]) {
    try {
      out[k] = readPng(resolveImage(ref));
    } catch (e) {
      throw new Error(`${k}: ${(e as Error).message}`);
    }
  }
  return out;
}
