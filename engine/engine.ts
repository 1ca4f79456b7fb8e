import { existsSync, mkdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { describeIssues, type RunResult } from '../app/contract';
import { RefusedError } from '../app/errors';
import { RunRequest, type ImageRef, type RunInputs } from '../app/run-request';
import type { Variant } from '../app/variant';
import type { LoopContext, PrepareContext } from './accelerations/acceleration';
import { describeVariant, enabledFor, sessionKey, validateVariant } from './accelerations/registry';
import { readMask } from './image/mask';
import { readPng } from './image/png';
import type { RgbImage } from './image/rgb';
import { GRAPH_COMPONENTS, inspectModel, loadModel, modelHash, type LoadedModel } from './model/model';
import type { GenerateOptions, PipelineImages } from './pipeline/pipeline';
import { checkImages, pipelineFor } from './pipeline/pipelines/registry';
import { isObject } from './model/components';
import { readJsonFile } from './model/files';
import { openSession, type SessionOptions } from './model/onnx-session';
import { residualUnet } from './onnx/residual-inputs';
import { Graph } from './pipeline/session-runner';
import { CONTROLNET_CLASS, type ControlNetGraph } from './pipeline/stages/controlnet';
import { residentOutputs } from './pipeline/resident';

interface Prepared {
  model: LoadedModel;
  provider: string;
  providerLabel: string;
  fellBack: boolean;
  prepareMs: number;
  prepareSteps: Record<string, number>;
  notes: Record<string, string>;
  runs: number;
  hash: string;
  /** ControlNet folders given by path, opened with the variant's session options on first use. */
  controlnets: Map<string, Promise<ControlNetGraph>>;
  sessionOptions: SessionOptions;
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
    // a run with a ControlNet needs a UNet with residual inputs (surgery on a plain one): its own sessions
    const residuals = parsed.data.params.controlnet !== undefined || inspectModel(dir).className === CONTROLNET_CLASS;
    const key = sessionKey(dir, variant) + (residuals ? '+controlnet' : '');
    let entry = this.prepared.get(key);
    if (!entry) {
      entry = this.prepare(dir, variant, residuals);
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
    const controlnets = await openControlNets(p, parsed.data.params.controlnet?.units.flatMap((u) => (u.dir ? [u.dir] : [])) ?? []);
    const res = await pipeline.run(p.model, params, {
      ...images, controlnets, signal: opts.signal, onEvent: opts.onEvent, onLatents: opts.onLatents,
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
      provider: p.provider, providerLabel: p.providerLabel, fellBack: p.fellBack, params: res.params, timings: res.timings,
      prepareMs: firstRun ? p.prepareMs : 0, prepareSteps: firstRun ? p.prepareSteps : {}, firstRun, fullSteps: full, summary: describeVariant(variant, p.notes),
      ...(res.notices?.length ? { notices: res.notices } : {}),
      model: { dir: p.model.dir, name: p.model.name, hash: p.hash },
    };
    return { result, images: res.images };
  }

  private async prepare(dir: string, variant: Variant, residuals: boolean): Promise<Prepared> {
    const t0 = performance.now();
    const info = inspectModel(dir);
    pipelineFor(info); // an unknown class or a missing component fails before any graph work
    const hash = await modelHash(info);
    const cacheDir = join(this.cacheRoot, hash);
    mkdirSync(cacheDir, { recursive: true });
    const graphs = Object.fromEntries(GRAPH_COMPONENTS.flatMap((c) => (info.components[c] ? [[c, info.components[c].file!]] : [])));
    const ctx: PrepareContext = { variant, modelDir: info.dir, sessionOptions: {}, graphOptions: {}, cacheDir, graphs, provider: 'cpu', fellBack: false, timings: {}, notes: {} };
    // before the accelerations: LoRA merges into, and DeepCache partitions, the UNet that takes the residuals
    if (residuals) graphs.unet = residualUnet(graphs.unet!, cacheDir);
    for (const a of enabledFor(variant)) await a.prepare?.(ctx);
    residentOutputs(ctx);
    const t1 = performance.now();
    const model = await loadModel(info.dir, ctx.sessionOptions, ctx.graphs, ctx.graphOptions);
    ctx.timings.sessionsMs = performance.now() - t1;
    const release = model.release;
    const controlnets = new Map<string, Promise<ControlNetGraph>>();
    model.release = async () => {
      await Promise.all([...controlnets.values()].map((c) => c.then((x) => x.graph.session.release(), () => undefined)));
      await release();
    };
    return { model, provider: ctx.provider, providerLabel: ctx.providerLabel ?? ctx.provider, fellBack: ctx.fellBack, prepareMs: performance.now() - t0, prepareSteps: ctx.timings, notes: ctx.notes, runs: 0, hash, controlnets, sessionOptions: ctx.sessionOptions };
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

/** The ControlNet folders a run names, opened once per prepared variant (its provider and options). */
async function openControlNets(p: Prepared, dirs: string[]): Promise<Record<string, ControlNetGraph>> {
  const out: Record<string, ControlNetGraph> = {};
  for (const dir of dirs) {
    let entry = p.controlnets.get(dir);
    if (!entry) {
      entry = openControlNet(dir, p.sessionOptions);
      p.controlnets.set(dir, entry);
      entry.catch(() => p.controlnets.delete(dir));
    }
    out[dir] = await entry;
  }
  return out;
}

async function openControlNet(dirIn: string, options: SessionOptions): Promise<ControlNetGraph> {
  const dir = resolve(dirIn);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new Error(`ControlNet ${dir}: not a folder (expected a ControlNet folder: model.onnx + config.json)`);
  const file = join(dir, 'model.onnx');
  if (!existsSync(file)) throw new Error(`${file}: missing (expected the ControlNet ONNX graph)`);
  const config = existsSync(join(dir, 'config.json')) ? readJsonFile(join(dir, 'config.json'), isObject, 'a JSON object (ControlNet config)') : {};
  const session = await openSession(file, options);
  return { graph: new Graph(session, file, session.inputNames), config, label: dir };
}

/** Each ref resolved to a PNG and decoded; an error names the input (the resolver or reader names the file). */
function readImages(inputs: RunInputs, resolveImage: (ref: ImageRef) => string): PipelineImages {
  const read = <T>(k: string, ref: ImageRef, decode: (path: string) => T): T => {
    try {
      return decode(resolveImage(ref));
    } catch (e) {
      throw new Error(`${k}: ${(e as Error).message}`);
    }
  };
  const { controlImages, mask, ...single } = inputs;
  const out: PipelineImages = Object.fromEntries(Object.entries(single).map(([k, ref]) => [k, read(k, ref, readPng)]));
  if (mask) out.mask = read('mask', mask, readMask);
  if (controlImages) out.controlImages = controlImages.map((ref, i) => read(`controlImages[${i}]`, ref, readPng));
  return out;
}
