import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, extname, resolve } from 'node:path';
import cliProgress from 'cli-progress';
import { Engine } from '../engine';
import { infotext } from '../image/infotext';
import { writePng } from '../image/png';
import { toRgb8 } from '../image/rgb';
import { variantFromFlags, type VariantFlags } from './variant-flags';
import { stepsNote } from '../../app/run-stats';
import { resolveUserPath } from '../io/paths';
import { inspectModel } from '../model/folder';

export interface GenerateFlags extends VariantFlags {
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
  strength?: number;
  batch?: number;
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
    const params = {
      // no --guidance: the model folder's recommendation (studio.json), else diffusers' 7.5 (the contract's default)
      prompt: f.prompt, negativePrompt: f.negativePrompt, seed: f.seed, steps: f.steps, guidance: f.guidance ?? inspectModel(f.model).recommendedGuidance,
      width: f.width, height: f.height, scheduler: f.scheduler, batch: f.batch, strength: f.strength,
    };
    const inputs = f.initImage ? { initImage: { path: resolveUserPath(f.initImage) } } : {};
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

export function defaultModelDir(): string | undefined {
  const dir = resolve(dirname(new URL(import.meta.url).pathname), '../../assets/models/emoji-sd');
  return existsSync(`${dir}/model_index.json`) ? dir : undefined;
}
