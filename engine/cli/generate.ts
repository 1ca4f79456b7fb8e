import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, extname, resolve } from 'node:path';
import cliProgress from 'cli-progress';
import { Engine } from '../engine';
import { infotext } from '../image/infotext';
import { writePng } from '../image/png';
import { toRgb8 } from '../image/rgb';
import { controlFromFlags, type ControlFlags } from './control-flags';
import { variantFromFlags, type VariantFlags } from './variant-flags';

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
    const control = controlFromFlags(f);
    const params = {
      prompt: f.prompt, negativePrompt: f.negativePrompt, seed: f.seed, steps: f.steps, guidance: f.guidance,
      width: f.width, height: f.height, scheduler: f.scheduler, batch: f.batch, strength: f.strength, controlnet: control.controlnet,
    };
    const inputs = { ...(f.initImage ? { initImage: { path: resolve(f.initImage) } } : {}), ...control.inputs };
    const { result, images } = await engine.run({ model: f.model, params, variant, inputs }, {
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
    const out = resolve(f.out);
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
      console.error(`${result.summary}\ntext encoder ${t.textEncoderMs.toFixed(0)} ms, ${t.stepMs.length} UNet steps ${t.denoiseMs.toFixed(0)} ms, VAE decode ${t.vaeDecoderMs.toFixed(0)} ms, total ${t.totalMs.toFixed(0)} ms (onnxruntime ${t.onnxMs.toFixed(0)} ms, engine ${t.overheadMs.toFixed(0)} ms); preparation ${result.prepareMs.toFixed(0)} ms`);
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
