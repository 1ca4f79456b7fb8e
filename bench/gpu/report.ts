import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { psnr, ssim } from '../../app/metrics';
import { deepcacheRow, FP16_ROWS, type RowResult } from './engine-bench';

/** An SD-fusion row whose image is further than this from its unfused baseline's is flagged: the rewrite changed the maths. */
export const FUSION_PSNR_MIN_DB = 40;

/** torch_bench.py's output. */
export interface TorchResult {
  device: { gpu: string; nvidiaSmi: string; torch: string; cuda: string; diffusers: string; transformers: string; cudnn: number };
  rows: TorchRow[];
  skipped: string[];
  elapsedS?: number;
}
export interface TorchRow {
  name: string;
  kind: 'unet' | 'pipeline';
  stepMs?: number;
  firstCallMs?: number;
  compileMs?: number;
  imageMs?: number;
  loopStepMs?: number;
  firstImageMs?: number;
  runs?: number;
  interval?: number;
  branch?: number;
  psnrVsPlain?: number;
  loopSpeedup?: number;
  image?: string;
}

export interface Target {
  target: string;
  measured: string;
  /** measured / limit (<= 1 meets a "<=" target), or limit / measured for ">=" targets; NaN when not measured. */
  ratio: number;
  met: boolean | null;
}

/** An engine row as the report's JSON has it: its image compared (PSNR dB, SSIM); `psnrBelowLimit` marks an SD-fusion row under the limit. */
export interface ReportedRow extends RowResult {
  psnrVsBaseline?: number;
  ssimVsBaseline?: number;
  psnrVsDiffusers?: number;
  ssimVsDiffusers?: number;
  psnrBelowLimit?: number;
}

export interface Report {
  markdown: string;
  json: { device: TorchResult['device'] | null; engineVersion: string; params: unknown; torch: TorchRow[]; torchSkipped: string[]; engine: ReportedRow[]; targets: Target[] };
}

const f = (v: number | undefined, digits = 1): string => (v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(digits));
const db = (v: number | undefined): string => (v === undefined || Number.isNaN(v) ? '–' : v === Infinity ? '∞' : v.toFixed(1));

/** Reads an image a bench side saved (raw float32 HWC), if it exists. */
function image(dir: string, name: string | undefined, width: number, height: number): Float32Array | undefined {
  const p = name && join(dir, `${name}.f32`);
  if (!p || !existsSync(p)) return undefined;
  const b = readFileSync(p);
  const data = new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
  return data.length === width * height * 3 ? data : undefined;
}

/** PSNR and the studio's SSIM of two images, when both exist. */
function compare(a: Float32Array | undefined, b: Float32Array | undefined, width: number, height: number): { psnr?: number; ssim?: number } {
  if (!a || !b) return {};
  const px = (d: Float32Array) => ({ width, height, channels: 3 as const, data: d, max: 1 });
  return { psnr: psnr(px(a), px(b)) ?? Infinity, ssim: ssim(px(a), px(b)).mean };
}

/**
 * The GPU table: references and engine rows from one call, the issue's targets checked against them.
 * Ratios are within the call; each row names its baseline.
 */
export function buildReport(torch: TorchResult | null, engine: RowResult[], imageDir: string, params: Record<string, unknown>, engineVersion: string, command: string): Report {
  const T = (name: string) => torch?.rows.find((r) => r.name === name);
  const E = (name: string) => engine.find((r) => r.name === name && !r.error);
  const rowsOut: string[] = [];
  const cmp: Record<string, { base: { psnr?: number; ssim?: number }; ref: { psnr?: number; ssim?: number } }> = {};
  for (const r of engine) {
    if (r.error || !r.width || !r.height) continue;
    const own = image(imageDir, r.image, r.width, r.height);
    const base = r.baseline ? engine.find((b) => b.name === r.baseline) : undefined;
    cmp[r.name] = {
      base: compare(own, base ? image(imageDir, base.image, r.width, r.height) : undefined, r.width, r.height),
      ref: compare(own, image(imageDir, r.reference, r.width, r.height), r.width, r.height),
    };
  }
  // a fusion part is verified against the row without it (its baseline)
  const flagged = Object.fromEntries(engine.map((r) => [r.name, !!r.variant.sdFusions && cmp[r.name]?.base.psnr !== undefined && cmp[r.name]!.base.psnr! < FUSION_PSNR_MIN_DB]));
  for (const r of engine) {
    if (r.error) {
      rowsOut.push(`| ${r.name} | – | – | – | – | – | – | – | – | – | – | – | – | – | not run: ${r.error.replace(/\|/g, '/')} |`);
      continue;
    }
    const base = r.baseline ? E(r.baseline) : undefined;
    const c = cmp[r.name];
    const shallow = r.shallowRunMs !== undefined && r.unetRunMs ? `${f(r.shallowRunMs, 2)} (${f(r.shallowRunMs / r.unetRunMs, 2)})` : '–';
    const firstImage = r.firstRunMs !== undefined && r.prepareMs !== undefined ? r.firstRunMs - r.prepareMs : undefined;
    const o = r.overheadSplit;
    const conv = r.convertMs !== undefined && Number.isFinite(r.convertMs) ? ` (I/O conversion ${f(r.convertMs, 1)})` : '';
    const split = o ? `${[o.stepsMs, o.loopMs, o.textEncoderMs, o.vaeDecoderMs + o.vaeEncoderMs, o.restMs].map((v) => f(v, 1)).join(' / ')}${conv}` : '–';
    const vsBase = `${db(c?.base.psnr)}${flagged[r.name] ? ` **< ${FUSION_PSNR_MIN_DB} dB**` : ''} / ${f(c?.base.ssim, 4)}`;
    rowsOut.push(`| ${r.name} | ${r.provider} | ${f(r.unetRunMs, 2)} | ${shallow} | ${f(r.loopStepMs, 2)} | ${base ? `${f(base.loopStepMs! / r.loopStepMs!, 2)}x` : '–'} | ${f(r.imageMs, 0)} | ${base ? `${f(base.imageMs! / r.imageMs!, 2)}x` : '–'} | ${f(100 * r.overheadFraction!, 1)}% (${f(r.stepOverheadMs, 2)}) | ${split} | ${f(r.prepareMs, 0)} / ${f(firstImage, 0)} | ${vsBase} | ${db(c?.ref.psnr)} / ${f(c?.ref.ssim, 4)} | ${r.runs} | ${r.summary ?? ''} |`);
  }
  const torchRows = (torch?.rows ?? []).map((r) =>
    r.kind === 'unet'
      ? `| ${r.name} | UNet call | ${f(r.stepMs, 2)} | – | – | ${r.compileMs !== undefined ? `compile + first call ${f(r.compileMs / 1e3, 1)} s` : `first call ${f(r.firstCallMs, 0)} ms`} | – | – |`
      : `| ${r.name} | pipeline | – | ${f(r.loopStepMs, 2)} | ${f(r.imageMs, 0)} | first image ${f(r.firstImageMs, 0)} ms | ${r.loopSpeedup !== undefined ? `${f(r.loopSpeedup, 2)}x` : '–'} | ${db(r.psnrVsPlain)} |`);
  const targets = checkTargets(T, E);
  const d = torch?.device;
  const markdown = [
    '# Benchmark: the engine on a GPU against diffusers (same call)',
    '',
    `Made with \`${command}\`. Device: ${d ? `${d.gpu} (nvidia-smi: ${d.nvidiaSmi}); torch ${d.torch} (CUDA ${d.cuda}, cuDNN ${d.cudnn}), diffusers ${d.diffusers}, transformers ${d.transformers}` : 'unknown (torch side not run)'}; engine: onnxruntime-node ${engineVersion}, Node ${process.version}.`,
    `Model: an SD1.5-architecture pipeline with random weights (bench/gpu/sd15.py; SD1.5's UNet, CLIP text encoder and VAE configs), ${params.width}x${params.height}, ${params.steps} DDIM steps, CFG ${params.guidance} (UNet batch 2), prompt "${params.prompt}", seed ${params.seed}. fp16 rows run the fp16 ONNX folder as stored (fp16 I/O); the engine keeps the VAE decoder in fp32 (its config says force_upcast), diffusers' fp16 pipeline decodes in fp16.`,
    'Times in ms; steady values are medians of the timed runs after a first run (UNet calls: median of 20-30 after warm-up). Ratios compare rows of this one call; "first run" is preparation (graph rewrites + session creation) / first image.',
    '',
    '## Targets (issue 13)',
    '',
    '| target | measured | met |',
    '| --- | --- | --- |',
    ...targets.map((t) => `| ${t.target} | ${t.measured} | ${t.met === null ? 'not measured' : t.met ? `yes (${f(t.ratio, 2)} of the limit)` : `no (${f(t.ratio, 2)}x the limit)`} |`),
    '',
    '## References: PyTorch / diffusers',
    '',
    '| row | what | UNet call ms | loop ms per step | image ms | first run | DeepCache loop speed-up | PSNR vs plain (dB) |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...torchRows,
    ...(torch?.skipped.length ? ['', `Skipped for time: ${torch.skipped.join(', ')}.`] : []),
    '',
    '## The engine',
    '',
    'UNet session.run: one full step (batch 2); shallow: a DeepCache cached step (its fraction of a full one). Overhead: engine time outside session.run over the whole image (median per-step part in brackets, ms); its split (ms; each part a median over the runs, so their sum is close to, not equal to, the median whole): all steps outside session.run / the denoise stage outside its steps / text encoder stage outside its graph / VAE stages outside theirs / between stages; in brackets, the part of the overhead spent converting feeds and outputs to and from each graph\'s types (fp16 I/O, all graphs). Speed-ups and the first PSNR / SSIM are against the row\'s baseline (the row named in JSON `baseline`), the second against the diffusers image it should reproduce (same weights, seed and noise). SD-fusion rows under ' + FUSION_PSNR_MIN_DB + ' dB against their unfused baseline are marked.',
    '',
    '| row | provider | UNet session.run ms | shallow run ms | loop ms per step | loop speed-up | image ms | image speed-up | overhead | overhead split ms (steps / loop / text / VAE / rest) | first run ms (prepare / image) | PSNR / SSIM vs baseline | PSNR / SSIM vs diffusers | runs | what ran |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rowsOut,
    '',
  ].join('\n');
  const engineOut = engine.map((r): ReportedRow => ({
    ...r, psnrVsBaseline: cmp[r.name]?.base.psnr, ssimVsBaseline: cmp[r.name]?.base.ssim, psnrVsDiffusers: cmp[r.name]?.ref.psnr, ssimVsDiffusers: cmp[r.name]?.ref.ssim,
    ...(flagged[r.name] ? { psnrBelowLimit: FUSION_PSNR_MIN_DB } : {}),
  }));
  return { markdown, json: { device: d ?? null, engineVersion, params, torch: torch?.rows ?? [], torchSkipped: torch?.skipped ?? [], engine: engineOut, targets } };
}

type Lookup<R> = (name: string) => R | undefined;

/** The issue's targets, each as measured / limit. */
export function checkTargets(T: Lookup<TorchRow>, E: Lookup<RowResult>): Target[] {
  const out: Target[] = [];
  const atMost = (target: string, value: number | undefined, ref: number | undefined, limit: number, what: string) => {
    const ratio = value !== undefined && ref ? value / ref : NaN;
    out.push({ target, measured: Number.isNaN(ratio) ? 'not measured' : `${f(ratio, 2)}x (${what}: ${f(value, 2)} vs ${f(ref, 2)} ms)`, ratio: ratio / limit, met: Number.isNaN(ratio) ? null : ratio <= limit });
  };
  // diffusers' eager rows measured twice (torch_bench.py): the faster of the two, so drift cannot flatter the engine
  const fastest = <K extends 'stepMs' | 'imageMs' | 'loopStepMs'>(name: string, k: K) => Math.min(...[name, `${name}, again`].map((n) => T(n)?.[k] ?? Infinity));
  const eagerStep = fastest('torch fp16 eager', 'stepMs'), eagerImage = fastest('diffusers fp16 eager', 'imageMs');
  const known = (v: number) => (Number.isFinite(v) ? v : undefined);
  // the engine's best fp16 CUDA configuration that keeps the image: plain, fused attention, SD fusions (all, or one part)
  const best = (k: 'unetRunMs' | 'imageMs') => FP16_ROWS.map(E).filter((r): r is RowResult => !!r?.[k]).sort((a, b) => a[k]! - b[k]!)[0];
  const fp16 = best('unetRunMs');
  atMost('CUDA fp16 UNet step <= 0.5x PyTorch eager', fp16?.unetRunMs, known(eagerStep), 0.5, `${fp16?.name ?? '–'} vs torch eager`);
  atMost('CUDA fp16 UNet step <= 0.7x torch.compile', fp16?.unetRunMs, T('torch fp16 torch.compile')?.stepMs, 0.7, `${fp16?.name ?? '–'} vs compiled`);
  const img = best('imageMs');
  atMost('whole 50-step image <= 0.5x the diffusers pipeline', img?.imageMs, known(eagerImage), 0.5, `${img?.name ?? '–'} vs diffusers fp16 eager`);
  for (const n of [3, 5]) {
    const dc = E(deepcacheRow(n)), base = dc?.baseline ? E(dc.baseline) : undefined;
    const mine = base && dc ? base.loopStepMs! / dc.loopStepMs! : NaN;
    // the helper's speed-up against the faster plain eager loop, as the other targets take the faster eager run
    const helper = T(`diffusers fp16 + DeepCache helper N=${n} b0`), plainLoop = known(fastest('diffusers fp16 eager', 'loopStepMs'));
    const ref = helper?.loopStepMs && plainLoop ? plainLoop / helper.loopStepMs : helper?.loopSpeedup;
    const ratio = ref ? mine / ref : NaN;
    out.push({ target: `DeepCache N=${n} b0 loop speed-up >= the reference helper's`, measured: Number.isNaN(ratio) ? 'not measured' : `engine ${f(mine, 2)}x vs helper ${f(ref, 2)}x`, ratio: ratio ? 1 / ratio : NaN, met: Number.isNaN(ratio) ? null : ratio >= 1 });
  }
  // WebGPU's session.run returns before the GPU is done (GPU-resident outputs), so its step is the loop's time per step
  const wg = ['webgpu fp16', 'webgpu fp16 + fused attention'].map(E).filter((r): r is RowResult => !!r?.loopStepMs).sort((a, b) => a.loopStepMs! - b.loopStepMs!)[0];
  atMost('WebGPU fp16 step <= 2.5x PyTorch eager', wg?.loopStepMs, known(eagerStep), 2.5, `${wg?.name ?? '–'} loop step vs torch eager`);
  const cudaRows = ['cuda fp32 TF32 on', 'cuda fp32 TF32 off', ...FP16_ROWS].map(E).filter((r): r is RowResult => r?.overheadFraction !== undefined);
  const worst = cudaRows.sort((a, b) => b.overheadFraction! - a.overheadFraction!)[0];
  out.push({
    target: 'engine overhead outside session.run < 3% of an image (GPU)',
    measured: worst ? cudaRows.map((r) => `${r.name} ${f(100 * r.overheadFraction!, 1)}%`).join(', ') : 'not measured',
    ratio: worst ? worst.overheadFraction! / 0.03 : NaN,
    met: worst ? worst.overheadFraction! < 0.03 : null,
  });
  return out;
}
