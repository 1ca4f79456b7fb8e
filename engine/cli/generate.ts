import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, extname, resolve } from 'node:path';
import cliProgress from 'cli-progress';
import type { GenerateParamsInput, SchedulerName } from '../../app/contract';
import { presetById } from '../../app/presets';
import type { RunInputs } from '../../app/run-request';
import { Engine } from '../engine';
import { infotext } from '../image/infotext';
import { writePng } from '../image/png';
import { toRgb8 } from '../image/rgb';
import { controlFromFlags, type ControlFlags } from './control-flags';
import { variantFromFlags, type VariantFlags } from './variant-flags';
import { stepsNote } from '../../app/run-stats';
import { resolveUserPath } from '../io/paths';
import { inspectModel } from '../model/folder';

export interface GenerateFlags extends VariantFlags, ControlFlags {
  model: string;
  prompt: string;
  negativePrompt?: string;
  seed: number;
  steps?: number;
  guidance?: number;
  width?: number;
  height?: number;
  scheduler?: string;
  initImage?: string;
  mask?: string;
  garment?: string;
  preset?: string;
  strength?: number;
  batch?: number;
  /** SDXL size conditioning, [h, w] / [y, x]. */
  originalSize?: [number, number];
  cropTopLeft?: [number, number];
  targetSize?: [number, number];
  out: string;
  json?: boolean;
}

/** `generate`: one run of one variant from flags; PNGs with infotext; optionally the result as one JSON line. */
export async function runGenerate(f: GenerateFlags): Promise<void> {
  const variant = variantFromFlags(f);
  const engine = new Engine();
  const bar = process.stderr.isTTY && !f.json
    ? new cliProgress.SingleBar({ stream: process.stderr, format: 'denoising {bar} {value}/{total} steps | {duration_formatted} elapsed, eta {eta_formatted}' }, cliProgress.Presets.shades_classic)
    : undefined;
  const abort = new AbortController();
  const onSigint = (): void => abort.abort();
  process.once('SIGINT', onSigint);
  try {
    const { params, inputs } = requestFromFlags(f);
    // no --guidance: the model folder's recommendation (studio.json), else diffusers' 7.5 (the contract's default)
    params.guidance ??= inspectModel(resolveUserPath(f.model)).recommendedGuidance;
    const { result, images } = await engine.run({ model: resolveUserPath(f.model), params, variant, inputs }, {
      signal: abort.signal,
      onEvent: (e) => {
        if (e.type !== 'step' || !bar) return;
        if (e.step === 1) bar.start(e.steps, 0);
        bar.update(e.step);
      },
    });
    bar?.stop();
    const text = infotext(result.params, {
      'Model hash': result.model.hash, Model: result.model.name, Provider: result.provider, ...(result.summary ? { Accelerations: result.summary } : {}),
    });
    const out = resolveUserPath(f.out);
    await mkdir(dirname(out), { recursive: true });
    const outputs = images.map((img, i) => {
      const path = images.length === 1 ? out : `${out.slice(0, out.length - extname(out).length)}-${i + 1}${extname(out) || '.png'}`;
      writePng(path, toRgb8(img), { parameters: text });
      return path;
    });
    if (f.json) {
      console.log(JSON.stringify({ outputs, ...result }));
    } else {
      const t = result.timings;
      for (const n of result.notices ?? []) console.error(`note: ${n}`);
      // what actually ran: a fallen-back provider is said, not left to the summary of what was asked
      const ran = `ran on ${result.provider}${result.fellBack ? ` (fell back: ${variant.provider} is not available here)` : ''}`;
      const note = stepsNote(result.params.steps, t.stepMs.length, result.params.scheduler);
      console.error(`${result.summary} · ${ran}\n${note ? `${note}\n` : ''}text encoder ${t.textEncoderMs.toFixed(0)} ms, ${t.stepMs.length} UNet calls ${t.denoiseMs.toFixed(0)} ms, VAE decode ${t.vaeDecoderMs.toFixed(0)} ms, total ${t.totalMs.toFixed(0)} ms (onnxruntime ${t.onnxMs.toFixed(0)} ms, engine ${t.overheadMs.toFixed(0)} ms); preparation ${result.prepareMs.toFixed(0)} ms`);
      for (const p of outputs) console.log(p);
    }
  } finally {
    bar?.stop();
    process.off('SIGINT', onSigint);
    await engine.release();
  }
}

/** The run's parameters and image refs from the flags: a preset's values under the user's, its images required. */
export function requestFromFlags(f: GenerateFlags): { params: GenerateParamsInput; inputs: RunInputs } {
  const preset = f.preset ? presetById(f.preset) : undefined;
  const given = {
    prompt: f.prompt, negativePrompt: f.negativePrompt, seed: f.seed, steps: f.steps, guidance: f.guidance,
    width: f.width, height: f.height, scheduler: f.scheduler as SchedulerName | undefined, batch: f.batch, strength: f.strength,
    sizeConditioning: sizeConditioning(f),
  };
  const control = controlFromFlags(f);
  const params = { ...preset?.params, ...Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined)), controlnet: control.controlnet } as GenerateParamsInput;
  const paths: Record<'initImage' | 'mask' | 'garment' | 'controlImage', string | undefined> = { initImage: f.initImage, mask: f.mask, garment: f.garment, controlImage: undefined };
  const flag = { initImage: '--init-image', mask: '--mask', garment: '--garment', controlImage: '--control-image' } as const;
  const missing = Object.entries(preset?.images ?? {}).filter(([k]) => !paths[k as keyof typeof paths]);
  if (missing.length) throw new Error(`--preset ${preset!.id} needs ${missing.map(([k, what]) => `${flag[k as keyof typeof flag]} (${what})`).join(', ')}`);
  if (f.mask && !f.initImage) throw new Error('--mask needs --init-image: the image to repaint');
  if (f.garment && !f.mask) throw new Error('--garment needs --mask (the garment region) and --init-image (the person)');
  const inputs = { ...Object.fromEntries(Object.entries(paths).filter(([, v]) => v).map(([k, v]) => [k, { path: resolveUserPath(v!) }])), ...control.inputs } as RunInputs;
  return { params, inputs };
}

export function defaultModelDir(): string | undefined {
  const dir = resolve(dirname(new URL(import.meta.url).pathname), '../../assets/models/emoji-sd');
  return existsSync(`${dir}/model_index.json`) ? dir : undefined;
}

/** The SDXL size-conditioning flags given, or none (other pipelines refuse the field). */
function sizeConditioning(f: GenerateFlags): { originalSize?: [number, number]; cropTopLeft?: [number, number]; targetSize?: [number, number] } | undefined {
  const given = Object.entries({ originalSize: f.originalSize, cropTopLeft: f.cropTopLeft, targetSize: f.targetSize }).filter(([, v]) => v !== undefined);
  return given.length ? Object.fromEntries(given) : undefined;
}
