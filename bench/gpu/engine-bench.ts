import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunEvent, RunResult } from '../../app/contract';
import { median } from '../../app/metrics';
import { SD_FUSION_PARTS } from '../../app/accelerations/sd-fusions';
import type { VariantInput } from '../../app/variant';
import { partRuns } from '../../engine/accelerations/sd-fusions';
import { Engine } from '../../engine/engine';
import { medianSplit, overheadSplit, type OverheadSplit } from './overhead';

/** Which folder a row runs: the SD1.5-architecture exports (sd15.py) or the embedded model. */
export type ModelId = 'sd15-fp32' | 'sd15-fp16' | 'embedded';

export interface BenchConfig {
  name: string;
  model: ModelId;
  variant: VariantInput;
  /** Timed runs after the first (the first carries session creation and graph rewrites). */
  repeats: number;
  /** The row whose loop and image this one's speed-ups and PSNR are measured against. */
  baseline?: string;
  /** The diffusers image (torch_bench.py) this row should reproduce, for PSNR. */
  reference?: string;
}

/**
 * Rows run in groups, one engine process each: the CUDA rows; the engine's fp16 conversion of the
 * fp32 folder (minutes of conversion on its first run, so a call of its own); WebGPU and the
 * embedded model; fp32 with TF32 off, a process-wide cuBLAS/cuDNN switch (NVIDIA_TF32_OVERRIDE=0).
 */
export const GROUPS = ['cuda', 'converted', 'webgpu-embedded', 'tf32off'] as const;
export type Group = (typeof GROUPS)[number];

const cuda = (extra: VariantInput = {}): VariantInput => ({ provider: 'cuda', ...extra });
const fused = (extra: VariantInput = {}): VariantInput => cuda({ precision: 'fp16', fusedAttention: true, ...extra });
const FUSED = 'cuda fp16 + fused attention';
/** The fp32 folder converted to fp16 by the engine (fp32 I/O), against the fp16 folder as stored. */
export const CONVERTED = 'cuda fp16 (engine conversion of fp32) + fused attention';

/** The engine's DeepCache rows, by interval (their baseline is the same variant's full run). */
export const deepcacheRow = (interval: number, base = FUSED): string => `${base} + DeepCache N=${interval} b0`;
const only = (parts: readonly string[]) => Object.fromEntries(SD_FUSION_PARTS.map((p) => [p, parts.includes(p)]));

/**
 * onnxruntime's SD fusions: all parts against fused attention, with DeepCache N=3, then each part
 * alone (rows follow SD_FUSION_PARTS). Their PSNR against the unfused row verifies the rewrite.
 */
const SD_FUSIONS = `${FUSED} + SD fusions`;
const sdFusionRows: BenchConfig[] = [
  { name: SD_FUSIONS, model: 'sd15-fp16', variant: fused({ sdFusions: {} }), repeats: 6, baseline: FUSED, reference: 'diffusers-fp16' },
  {
    name: deepcacheRow(3, SD_FUSIONS), model: 'sd15-fp16', variant: fused({ sdFusions: {}, deepcache: { interval: 3, branch: 0 } }), repeats: 4,
    baseline: SD_FUSIONS, reference: 'deepcache-n3-b0',
  },
  ...SD_FUSION_PARTS.map((part): BenchConfig => ({
    name: `${FUSED} + ${part}`, model: 'sd15-fp16', variant: fused({ sdFusions: only([part]) }), repeats: 3, baseline: FUSED, reference: 'diffusers-fp16',
  })),
];

/** The fp16 CUDA rows that keep the image (no DeepCache, no CFG truncation): the report's step and image targets take the best. */
export const FP16_ROWS = ['cuda fp16', FUSED, CONVERTED, SD_FUSIONS, ...SD_FUSION_PARTS.map((p) => `${FUSED} + ${p}`)];

/** WebGPU's SD-fusion rows (fp16): the parts it has right kernels for, together and alone; none while it has none. */
const WEBGPU_FUSED = 'webgpu fp16 + fused attention';
const webgpuParts = SD_FUSION_PARTS.filter((p) => partRuns(p, 'webgpu', 'fp16'));
const webgpuFusionRows: BenchConfig[] = (webgpuParts.length > 1 ? [webgpuParts, ...webgpuParts.map((p) => [p])] : webgpuParts.map((p) => [p])).map((parts) => ({
  name: `${WEBGPU_FUSED} + ${parts.length > 1 ? 'SD fusions' : parts[0]}`, model: 'sd15-fp16', variant: { provider: 'webgpu', precision: 'fp16', fusedAttention: true, sdFusions: only(parts) },
  repeats: 2, baseline: WEBGPU_FUSED, reference: 'diffusers-fp16',
}));

export function configs(group: Group): BenchConfig[] {
  // the engine's fp32 -> fp16 conversion of a 3.4 GB UNet takes minutes on its first run
  if (group === 'converted') return [{ name: CONVERTED, model: 'sd15-fp32', variant: fused(), repeats: 5, baseline: FUSED, reference: 'diffusers-fp16' }];
  if (group === 'tf32off') {
    return [{ name: 'cuda fp32 TF32 off', model: 'sd15-fp32', variant: cuda({ tf32: false }), repeats: 4, baseline: 'cuda fp32 TF32 on', reference: 'diffusers-fp32' }];
  }
  const deepcache = [2, 3, 5].map((interval): BenchConfig => ({
    name: deepcacheRow(interval), model: 'sd15-fp16', variant: fused({ deepcache: { interval, branch: 0 } }), repeats: 4,
    baseline: FUSED, reference: `deepcache-n${interval}-b0`,
  }));
  const emb = (name: string, variant: VariantInput): BenchConfig => ({ name: `embedded ${name}`, model: 'embedded', variant, repeats: 6, baseline: 'embedded cpu fp32' });
  if (group === 'webgpu-embedded') {
    // the embedded model's rows first: each SD1.5 WebGPU row's first run takes 8-38 s, and a budget spent on them left these unreached
    return [
      emb('cpu fp32', {}),
      emb('cuda fp32', cuda()),
      emb('cuda fp16', cuda({ precision: 'fp16' })),
      emb('cuda fp16 + fused attention', fused()),
      emb('cuda fp16 + fused + DeepCache N=3 b0', fused({ deepcache: { interval: 3, branch: 0 } })),
      { ...emb('cuda fp16 + fused + SD fusions', fused({ sdFusions: {} })), baseline: 'embedded cuda fp16 + fused attention' },
      { ...emb('cuda fp16 + fused + SD fusions + DeepCache N=3 b0', fused({ sdFusions: {}, deepcache: { interval: 3, branch: 0 } })), baseline: 'embedded cuda fp16 + fused + DeepCache N=3 b0' },
      emb('webgpu fp32', { provider: 'webgpu' }),
      { name: 'webgpu fp32', model: 'sd15-fp32', variant: { provider: 'webgpu' }, repeats: 2, baseline: 'cuda fp32 TF32 on', reference: 'diffusers-fp32' },
      { name: 'webgpu fp16', model: 'sd15-fp16', variant: { provider: 'webgpu', precision: 'fp16' }, repeats: 2, baseline: 'cuda fp16', reference: 'diffusers-fp16' },
      { name: WEBGPU_FUSED, model: 'sd15-fp16', variant: { provider: 'webgpu', precision: 'fp16', fusedAttention: true }, repeats: 2, baseline: 'webgpu fp16', reference: 'diffusers-fp16' },
      ...webgpuFusionRows,
    ];
  }
  return [
    { name: 'cuda fp32 TF32 on', model: 'sd15-fp32', variant: cuda(), repeats: 5, reference: 'diffusers-fp32' },
    { name: 'cuda fp16', model: 'sd15-fp16', variant: cuda({ precision: 'fp16' }), repeats: 6, reference: 'diffusers-fp16' },
    { name: FUSED, model: 'sd15-fp16', variant: fused(), repeats: 6, baseline: 'cuda fp16', reference: 'diffusers-fp16' },
    sdFusionRows[0]!,
    // the same graphs with CFG and the scheduler step on the host (engine/onnx/step-fold.ts is the default on cuda)
    { name: `${SD_FUSIONS}, step on the host`, model: 'sd15-fp16', variant: fused({ sdFusions: {}, stepInGraph: 'off' }), repeats: 6, baseline: SD_FUSIONS, reference: 'diffusers-fp16' },
    ...deepcache,
    sdFusionRows[1]!,
    { name: `${FUSED} + CFG truncation 0.5`, model: 'sd15-fp16', variant: fused({ cfgTruncation: 0.5 }), repeats: 4, baseline: FUSED },
    ...sdFusionRows.slice(2),
  ];
}

/** What one row measured; times in ms, steady values are medians over the timed runs. */
export interface RowResult {
  name: string;
  model: ModelId;
  variant: VariantInput;
  baseline?: string;
  reference?: string;
  error?: string;
  provider?: string;
  summary?: string;
  steps?: number;
  fullSteps?: number;
  runs?: number;
  /** The first run: wall time, its preparation (graph rewrites + session creation) and the parts of that. */
  firstRunMs?: number;
  prepareMs?: number;
  prepareSteps?: Record<string, number>;
  imageMs?: number;
  imageMsAll?: number[];
  /** Denoising loop time over its steps (DeepCache: the mean of full and shallow steps). */
  loopStepMs?: number;
  /** session.run of one full UNet step (batch 2 with CFG), and of one shallow DeepCache step. */
  unetRunMs?: number;
  shallowRunMs?: number;
  /** Per step: wall minus session.run (scheduler, CFG, tensor conversion). */
  stepOverheadMs?: number;
  textEncoderMs?: number;
  vaeDecoderMs?: number;
  /** Engine time outside session.run over the whole image, as a fraction of it, and where it went (medians). */
  overheadMs?: number;
  overheadFraction?: number;
  overheadSplit?: OverheadSplit;
  /** Of the overhead: feeds converted to the graphs' input types and outputs to float32 (fp16 I/O), whole image. */
  convertMs?: number;
  /** The last image, saved as raw float32 HWC under the image folder. */
  image?: string;
  width?: number;
  height?: number;
}

export interface EngineBenchOptions {
  models: Record<ModelId, string>;
  params: Record<string, unknown>;
  embeddedParams: Record<string, unknown>;
  imageDir: string;
  cacheRoot: string;
  /** Seconds: rounds stop once this is spent (each row keeps at least one timed run). */
  budgetS: number;
  only?: RegExp;
  log?: (line: string) => void;
}

/** Runs one group's rows: a first run each, then rounds over all rows (so drift falls on all alike). */
export async function runEngineBench(group: Group, o: EngineBenchOptions): Promise<RowResult[]> {
  const t0 = performance.now();
  const log = o.log ?? (() => undefined);
  const list = configs(group).filter((c) => !o.only || o.only.test(c.name));
  const engine = new Engine(o.cacheRoot, list.length);
  const runs = new Map<string, RunResult[]>();
  const splits = new Map<string, OverheadSplit[]>();
  /** One run, with the stage events its overhead split needs. */
  const timed = async (c: BenchConfig) => {
    const events: RunEvent[] = [];
    const out = await engine.run(request(c), { onEvent: (e) => e.type === 'stage' && events.push(e) });
    return { ...out, split: overheadSplit(out.result.timings, events) };
  };
  const rows = list.map((c): RowResult => ({ name: c.name, model: c.model, variant: c.variant, baseline: c.baseline, reference: c.reference }));
  const request = (c: BenchConfig) => ({ model: o.models[c.model], params: c.model === 'embedded' ? o.embeddedParams : o.params, variant: c.variant });
  mkdirSync(o.imageDir, { recursive: true });
  const keep = (row: RowResult, img: { data: Float32Array; width: number; height: number }) => {
    row.image = `engine-${row.name.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}${group === 'tf32off' ? '-tf32off' : ''}`;
    [row.width, row.height] = [img.width, img.height];
    writeFileSync(join(o.imageDir, `${row.image}.f32`), img.data);
  };
  try {
    for (const [i, c] of list.entries()) {
      const row = rows[i]!;
      if ((performance.now() - t0) / 1e3 > o.budgetS) {
        row.error = 'not reached within the time budget';
        continue;
      }
      try {
        const s = performance.now();
        const { result, images } = await timed(c);
        row.firstRunMs = performance.now() - s;
        row.prepareMs = result.prepareMs;
        row.prepareSteps = result.prepareSteps;
        row.provider = result.provider;
        row.summary = result.summary;
        keep(row, images[0]!);
        runs.set(c.name, []);
        splits.set(c.name, []);
        log(`${c.name}: first run ${(row.firstRunMs / 1e3).toFixed(1)} s (prepare ${(result.prepareMs / 1e3).toFixed(1)} s)`);
      } catch (e) {
        row.error = (e as Error).message.split('\n')[0];
        log(`${c.name}: not run: ${row.error}`);
      }
    }
    const most = Math.max(...list.map((c) => c.repeats));
    for (let r = 0; r < most; r++) {
      if (r > 0 && (performance.now() - t0) / 1e3 > o.budgetS) {
        log(`time budget reached after ${r} rounds`);
        break;
      }
      for (const [i, c] of list.entries()) {
        if (!runs.has(c.name) || r >= c.repeats) continue;
        const { result, images, split } = await timed(c);
        runs.get(c.name)!.push(result);
        splits.get(c.name)!.push(split);
        if (r === c.repeats - 1 || r === most - 1) keep(rows[i]!, images[0]!);
      }
    }
  } finally {
    await engine.release();
  }
  for (const [i, c] of list.entries()) Object.assign(rows[i]!, summarise(runs.get(c.name) ?? []), { overheadSplit: medianSplit(splits.get(c.name) ?? []) });
  return rows;
}

/** Steady-state medians of a row's timed runs. */
function summarise(rs: RunResult[]): Partial<RowResult> {
  if (rs.length === 0) return {};
  const full = rs.flatMap((r) => r.fullSteps.map((i) => r.timings.stepOnnxMs[i]!));
  const shallow = rs.flatMap((r) => r.timings.stepOnnxMs.filter((_, i) => !r.fullSteps.includes(i)));
  const t = rs.map((r) => r.timings);
  return {
    runs: rs.length,
    steps: t[0]!.stepMs.length,
    fullSteps: rs[0]!.fullSteps.length,
    imageMs: median(t.map((x) => x.totalMs)),
    imageMsAll: t.map((x) => x.totalMs),
    loopStepMs: median(t.map((x) => x.denoiseMs / x.stepMs.length)),
    unetRunMs: median(full),
    shallowRunMs: shallow.length ? median(shallow) : undefined,
    stepOverheadMs: median(t.flatMap((x) => x.stepMs.map((ms, i) => ms - x.stepOnnxMs[i]!))),
    textEncoderMs: median(t.map((x) => x.textEncoderMs)),
    vaeDecoderMs: median(t.map((x) => x.vaeDecoderMs)),
    overheadMs: median(t.map((x) => x.overheadMs)),
    overheadFraction: median(t.map((x) => x.overheadMs / x.totalMs)),
    convertMs: median(t.map((x) => x.convertMs ?? NaN)),
  };
}
