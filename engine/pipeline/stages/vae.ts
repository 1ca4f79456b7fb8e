import type { RgbImage } from '../../image/rgb';
import type { TorchGenerator } from '../../noise/generator';
import { scale } from '../../schedulers/scheduler';
import { firstNonFinite } from '../finite';
import type { Graph } from '../session-runner';

/** Image in [0,1] HWC → the VAE's [-1,1] NCHW. */
export function imageToTensor(img: RgbImage): Float32Array {
  const { width: w, height: h, data } = img;
  const out = new Float32Array(3 * w * h);
  for (let c = 0; c < 3; c++) for (let p = 0; p < w * h; p++) out[c * w * h + p] = data[p * 3 + c]! * 2 - 1;
  return out;
}

/**
 * The VAE decoder's [-1,1] NCHW (one image) → [0,1] HWC, clamped as diffusers' postprocess does;
 * undefined when a value is non-finite. One pass, pixel by pixel (sequential writes): the check is
 * the sum, which a finite float32 image cannot overflow in float64.
 */
export function tensorToImage(x: Float32Array, width: number, height: number, offset = 0): RgbImage | undefined {
  const n = width * height;
  const data = new Float32Array(n * 3);
  let sum = 0;
  for (let p = 0, o = 0, r = offset, g = offset + n, b = offset + 2 * n; p < n; p++, o += 3) {
    const vr = x[r + p]!, vg = x[g + p]!, vb = x[b + p]!;
    sum += vr + vg + vb;
    data[o] = clamp01(vr / 2 + 0.5);
    data[o + 1] = clamp01(vg / 2 + 0.5);
    data[o + 2] = clamp01(vb / 2 + 0.5);
  }
  return Number.isFinite(sum) ? { width, height, data } : undefined;
}

const clamp01 = (v: number): number => (v < 0 ? 0 : v > 1 ? 1 : v);

/**
 * An image's latents as diffusers' img2img pipeline makes them: encode, sample the latent
 * distribution with the run's generator (when the encoder outputs mean and log-variance), scale,
 * repeat for the batch. Encoders that already sample (latent channels out) are used as they are.
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

/** Latents → images, one at a time (bounded memory); a non-finite decoder output is an error, not a black image. */
export async function decodeLatents(vae: Graph, latents: Float32Array, shape: readonly number[], scaling: number): Promise<RgbImage[]> {
  const batch = shape[0]!, per = latents.length / batch;
  const out: RgbImage[] = [];
  for (let b = 0; b < batch; b++) {
    const z = scale(latents.subarray(b * per, (b + 1) * per), 1 / scaling);
    const x = await vae.run({ latent_sample: { data: z, dims: [1, ...shape.slice(1)] } });
    const img = tensorToImage(x.data, x.dims[3]!, x.dims[2]!);
    if (!img) throw new Error(`${vae.file}: the decoded image ${b + 1} of ${batch} is non-finite (${firstNonFinite(x.data)}): the VAE overflowed (fp16?) or its weights are broken`);
    out.push(img);
  }
  return out;
}
