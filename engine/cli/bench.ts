import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, platform, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import cliProgress from 'cli-progress';
import type { GenerateParamsInput } from '../../app/contract';
import { EMOJI_INPAINT_DEMO } from '../../app/presets';
import type { RunInputs } from '../../app/run-request';
import type { VariantInput } from '../../app/variant';
import { Engine } from '../engine';
import { median, psnr, ssim } from '../../app/metrics';
import { asPixels } from '../image/rgb';
import { inspectModel } from '../model/folder';
import { pipelineFor } from '../pipeline/pipelines/registry';

export interface BenchFlags {
  model: string;
  steps: number;
  repeats: number;
  prompt: string;
  seed: number;
  guidance: number;
  out?: string;
  only?: string;
}

/** A row: an acceleration option on the plain request, or another pipeline with the plain variant. */
interface Row {
  name: string;
  variant: VariantInput;
  params?: Partial<GenerateParamsInput>;
  inputs?: RunInputs;
  /** Why the row cannot run on this model (its inputs are missing), shown instead of figures. */
  skip?: string;
}

/** The rows of the benchmark: one per option, each against the plain run. */
function variants(model: string): [string, VariantInput][] {
  const loras = join(model, 'loras');
  const files = existsSync(loras) ? readdirSync(loras).filter((f) => f.endsWith('.safetensors')).sort() : [];
  const lcm = files.find((f) => /lcm/i.test(f));
  const styles = files.filter((f) => f !== lcm);
  return [
    ['plain (opt all)', {}],
    ['opt disabled', { optLevel: 'disabled' }],
    ['opt basic', { optLevel: 'basic' }],
    ['opt extended', { optLevel: 'extended' }],
    ['fp16', { precision: 'fp16' }],
    ['fused attention', { fusedAttention: true }],
    ['DeepCache N=2 b0', { deepcache: { interval: 2, branch: 0 } }],
    ['DeepCache N=3 b0', { deepcache: { interval: 3, branch: 0 } }],
    ['DeepCache N=5 b0', { deepcache: { interval: 5, branch: 0 } }],
    ['DeepCache N=3 b3', { deepcache: { interval: 3, branch: 3 } }],
    ['DeepCache N=3 nonuniform', { deepcache: { interval: 3, branch: 0, schedule: 'nonuniform' } }],
    ['CFG truncation 0.5', { cfgTruncation: 0.5 }],
    ...styles.map((f): [string, VariantInput] => [`LoRA ${f}`, { loras: [{ path: join(loras, f), weight: 1 }] }]),
    ...(lcm ? [[`LCM-LoRA (4 steps)`, { lcmLora: { path: join(loras, lcm) } }] as [string, VariantInput]] : []),
  ];
}

const REPO = resolve(dirname(new URL(import.meta.url).pathname), '../..');

/**
 * One row per pipeline besides txt2img (the plain row), on the embedded demo inputs: img2img and
 * latent-blend inpainting on the inpainting demo's image and mask, ControlNet with the model's canny
 * ControlNet (a folder its studio.json lists, or a controlnet* subfolder) on canny edges of the same image.
 */
function pipelines(model: string): Row[] {
  const image = { path: join(REPO, EMOJI_INPAINT_DEMO.image) }, mask = { path: join(REPO, EMOJI_INPAINT_DEMO.mask) };
  const demo = existsSync(image.path) && existsSync(mask.path) ? undefined : `the demo image and mask (${EMOJI_INPAINT_DEMO.image}, ${EMOJI_INPAINT_DEMO.mask}) are not here`;
  const dirs = inspectModel(model).controlnetDirs, cn = dirs.find((d) => /canny/i.test(d)) ?? dirs[0];
  return [
    { name: 'img2img (strength 0.6)', variant: {}, params: { strength: 0.6 }, inputs: { initImage: image }, skip: demo },
    { name: 'inpainting, latent blend (strength 1)', variant: {}, params: { strength: 1 }, inputs: { initImage: image, mask }, skip: demo },
    {
      name: 'ControlNet canny (scale 1)', variant: {}, params: { controlnet: { units: [{ dir: cn, preprocess: 'canny' }] } }, inputs: { controlImage: image },
      skip: demo ?? (cn ? undefined : `${model} names no ControlNet (no controlnet* subfolder, no "controlnets" in its studio.json)`),
    },
  ];
}

type RowState = { firstMs: number; steps: number[]; totals: number[]; full: number[]; cached: number[]; last?: Awaited<ReturnType<Engine['run']>>; error?: string };

/** The pipelines' table: txt2img is the plain row above; each other pipeline with what its run reported. */
function pipelineTable(rows: Row[], state: Map<string, RowState>, plainTotal: number): string[] {
  if (!rows.length) return [];
  const lines = rows.map(({ name }) => {
    const st = state.get(name)!;
    if (st.error || !st.last) return `| ${name} | – | – | – | – | – | – | not run: ${st.error} |`;
    const { result } = st.last, total = median(st.totals);
    const notes = (result.notices ?? []).join('; ').replace(/\|/g, '/');
    return `| ${name} | ${result.provider} | ${result.timings.stepMs.length} | ${median(st.steps).toFixed(1)} | ${total.toFixed(0)} | ${(total / plainTotal).toFixed(2)}x | ${st.firstMs.toFixed(0)} | ${notes || '–'} |`;
  });
  return [
    '',
    `Pipelines, plain variant, same prompt, seed, steps and guidance (txt2img is the plain row above; inputs: ${EMOJI_INPAINT_DEMO.image} and ${EMOJI_INPAINT_DEMO.mask}):`,
    '',
    '| pipeline | provider | UNet steps | denoising ms per step (steady) | image ms (steady) | image time vs txt2img | first run ms (prepare + image) | what the run reported |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...lines,
  ];
}

/**
 * `bench`: for each option, first-run cost (preparation + first image) apart from steady state
 * (median over repeats after it), and the image's PSNR/SSIM against the plain run. Ratios are
 * within one run on one machine; the table names the machine.
 * Then one row per pipeline (img2img, inpainting, ControlNet) with the plain variant.
 */
export async function runBench(f: BenchFlags): Promise<string> {
  const engine = new Engine();
  const params = { prompt: f.prompt, negativePrompt: 'blurry', seed: f.seed, steps: f.steps, guidance: f.guidance };
  const rows: string[] = [];
  let plainImg: { data: Float32Array; width: number; height: number } | undefined;
  let plainStep = 0, plainTotal = 0, plainFull = 0;
  const options: Row[] = variants(f.model).map(([name, variant]) => ({ name, variant }));
  const list = [...options, ...pipelines(f.model)].filter(({ name }) => !f.only || name.includes(f.only) || name.startsWith('plain'));
  const request = (r: Row) => ({ model: f.model, params: { ...params, ...r.params }, variant: r.variant, inputs: r.inputs });
  const bar = process.stderr.isTTY ? new cliProgress.SingleBar({ stream: process.stderr, format: 'bench {phase} {bar} {value}/{total} | {name}' }, cliProgress.Presets.shades_classic) : undefined;
  // first runs (preparation + first image), then rounds that run every option once each, so that
  // load from anything else on the machine falls on all options alike
  const state = new Map<string, RowState>();
  try {
    bar?.start(list.length, 0, { phase: 'first runs', name: '' });
    for (const row of list) {
      const { name } = row;
      bar?.update({ name });
      if (row.skip) {
        state.set(name, { firstMs: NaN, steps: [], totals: [], full: [], cached: [], error: row.skip });
        bar?.increment(1);
        continue;
      }
      try {
        const t0 = performance.now();
        const first = await engine.run(request(row));
        state.set(name, { firstMs: performance.now() - t0, steps: [], totals: [], full: [], cached: [], last: first });
      } catch (e) {
        state.set(name, { firstMs: NaN, steps: [], totals: [], full: [], cached: [], error: (e as Error).message.split('\n')[0]!.replace(/\|/g, '/') });
      }
      bar?.increment(1);
    }
    bar?.start(f.repeats, 0, { phase: 'rounds', name: '' });
    for (let r = 0; r < f.repeats; r++) {
      // each round starts at another option, so none is always the one after the slowest
      for (const row of [...list.slice(r % list.length), ...list.slice(0, r % list.length)]) {
        const st = state.get(row.name)!;
        if (st.error) continue;
        bar?.update({ name: row.name });
        st.last = await engine.run(request(row));
        // mean step over the loop: with DeepCache the median step would be a cached one
        st.steps.push(st.last.result.timings.denoiseMs / st.last.result.timings.stepMs.length);
        st.totals.push(st.last.result.timings.totalMs);
        const isFull = new Set(st.last.result.fullSteps);
        st.last.result.timings.stepMs.forEach((ms, i) => (isFull.has(i) ? st.full : st.cached).push(ms));
      }
      bar?.increment(1);
    }
  } finally {
    bar?.stop();
    await engine.release();
  }
  for (const { name } of list.filter((r) => options.some((o) => o.name === r.name))) {
    const st = state.get(name)!;
    if (st.error || !st.last) {
      rows.push(`| ${name} | – | – | – | – | – | – | – | – | – | – | not run: ${st.error} |`);
      continue;
    }
    const img = st.last.images[0]!;
    plainImg ??= img;
    const step = median(st.steps), total = median(st.totals);
    if (name.startsWith('plain')) [plainStep, plainTotal, plainFull] = [step, total, median(st.full)];
    // DeepCache's two step kinds apart: a full step should cost what a plain step does, a cached one a fraction of it
    const fullVsPlain = `${(median(st.full) / plainFull).toFixed(2)}x`;
    const cachedVsFull = st.cached.length ? `${(median(st.cached) / median(st.full)).toFixed(2)}` : '–';
    const same = img.width === plainImg.width && img.height === plainImg.height;
    // the studio's PSNR and SSIM (luma, Gaussian window), so the table and the compare view agree
    const p = same ? psnr(asPixels(img), asPixels(plainImg)) ?? Infinity : NaN, s = same ? ssim(asPixels(img), asPixels(plainImg)).mean : NaN;
    rows.push(`| ${name} | ${st.last.result.provider} | ${st.last.result.timings.stepMs.length} | ${step.toFixed(1)} | ${(plainStep / step).toFixed(2)}x | ${fullVsPlain} | ${cachedVsFull} | ${total.toFixed(0)} | ${(plainTotal / total).toFixed(2)}x | ${st.firstMs.toFixed(0)} | ${Number.isFinite(p) ? p.toFixed(1) : p === Infinity ? '∞' : '–'} | ${Number.isFinite(s) ? s.toFixed(4) : '–'} |`);
  }
  const table = [
    `Machine: ${machine()}`,
    `Model: ${f.model} (${pipelineFor(inspectModel(f.model)).id} pipeline); prompt "${f.prompt}", seed ${f.seed}, ${f.steps} steps, guidance ${f.guidance} (LCM-LoRA: 4 steps, guidance 1), default size and scheduler; a first run per option, then ${f.repeats} interleaved rounds (medians). Load average when it started: ${loadavg()[0]!.toFixed(2)}.`,
    '',
    '| option | provider | UNet steps | denoising ms per step (steady) | loop speed-up | full step vs plain step | cached step / full step | image ms (steady) | image speed-up | first run ms (prepare + image) | PSNR vs plain (dB) | SSIM vs plain |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
    ...pipelineTable(list.filter((r) => !options.some((o) => o.name === r.name)), state, plainTotal),
  ].join('\n');
  if (f.out) {
    mkdirSync(dirname(f.out), { recursive: true });
    writeFileSync(f.out, `${table}\n`);
  }
  return table;
}

/** The machine a CPU table was made on, as the tables name it. */
export function machine(): string {
  const cpu = cpus();
  return `${cpu[0]?.model ?? 'unknown CPU'}, ${cpu.length} logical cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ${platform()}, Node ${process.version}, onnxruntime-node 1.29.0`;
}
