import type { TorchGenerator } from '../noise/generator';
import type { RgbImage } from '../image/rgb';
import type { ClipTokenizer } from '../tokenizer/clip';
import type { Graph } from './session-runner';

/**
 * Prompt embeddings in diffusers' order: [negative × batch, positive × batch] with guidance,
 * [positive × batch] without.
 */
export async function encodePrompt(te: Graph, tok: ClipTokenizer, prompt: string, negative: string, batch: number, cfg: boolean): Promise<{ data: Float32Array; dims: number[] }> {
  const texts = cfg ? [negative, prompt] : [prompt];
  const ids = new Int32Array(texts.length * tok.maxLength);
  texts.forEach((t, i) => ids.set(tok.encode(t), i * tok.maxLength));
  const emb = await te.run({ input_ids: { data: ids, dims: [texts.length, tok.maxLength] } });
  const [, seq, dim] = emb.dims as [number, number, number];
  const per = seq * dim;
  const out = new Float32Array(texts.length * batch * per);
  for (let i = 0; i < texts.length; i++) {
    for (let b = 0; b < batch; b++) out.set(emb.data.subarray(i * per, (i + 1) * per), (i * batch + b) * per);
  }
  return { data: out, dims: [texts.length * batch, seq, dim] };
}

/** Image in [0,1] HWC → the VAE's [-1,1] NCHW. */
export function imageToTensor(img: RgbImage): Float32Array {
  const { width: w, height: h, data } = img;
  const out = new Float32Array(3 * w * h);
  for (let c = 0; c < 3; c++) for (let p = 0; p < w * h; p++) out[c * w * h + p] = data[p * 3 + c]! * 2 - 1;
  return out;
}

/** The VAE decoder's [-1,1] NCHW (one image) → [0,1] HWC, clamped as diffusers' postprocess does. */
export function tensorToImage(x: Float32Array, width: number, height: number, offset = 0): RgbImage {
  const n = width * height;
  const data = new Float32Array(n * 3);
  for (let c = 0; c < 3; c++) {
    for (let p = 0; p < n; p++) data[p * 3 + c] = Math.min(1, Math.max(0, x[offset + c * n + p]! / 2 + 0.5));
  }
  return { width, height, data };
}

/**
 * img2img's initial latents as diffusers' img2img pipeline makes them: encode, sample the latent
 * distribution with the run's generator (when the encoder outputs mean and log-variance), scale,
 * repeat for the batch. Encoders that already sample (4 channels out) are used as they are.
 */
export async function encodeImage(vae: Graph, img: RgbImage, latentChannels: number, scaling: number, batch: number, gen: TorchGenerator): Promise<Float32Array> {
  const out = await vae.run({ sample: { data: imageToTensor(img), dims: [1, 3, img.height, img.width] } });
  const [, c, h, w] = out.dims as [number, number, number, number];
  const n = latentChannels * h * w;
  let z: Float32Array;
  if (c === 2 * latentChannels) {
    const eps = gen.randn([1, latentChannels, h, w]);
    z = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const logvar = Math.min(20, Math.max(-30, out.data[n + i]!));
      z[i] = out.data[i]! + Math.exp(0.5 * logvar) * eps[i]!;
    }
  } else if (c === latentChannels) {
    z = out.data.slice(0, n);
  } else {
    throw new Error(`${vae.file}: output has ${c} channels; expected ${latentChannels} (latents) or ${2 * latentChannels} (mean, log-variance)`);
  }
  const res = new Float32Array(batch * n);
  for (let b = 0; b < batch; b++) for (let i = 0; i < n; i++) res[b * n + i] = z[i]! * scaling;
  return res;
}

/** guided = uncond + g (text - uncond), from the UNet's [uncond; text] halves. */
export function guide(out: Float32Array, g: number): Float32Array {
  const half = out.length / 2;
  const res = new Float32Array(half);
  for (let i = 0; i < half; i++) res[i] = out[i]! + g * (out[half + i]! - out[i]!);
  return res;
}

export function repeat(x: Float32Array, times: number): Float32Array {
  const out = new Float32Array(x.length * times);
  for (let k = 0; k < times; k++) out.set(x, k * x.length);
  return out;
}
