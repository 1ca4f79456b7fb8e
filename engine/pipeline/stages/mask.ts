import { resizeMask, type MaskImage } from '../../image/mask';
import type { RgbImage } from '../../image/rgb';
import type { Scheduler } from '../../schedulers/scheduler';
import type { Denoiser, Tensor } from '../denoiser';

/**
 * The mask at the image's size, binarised as diffusers' mask processor does (>= 0.5 → 1 = repaint).
 * A mask of another size is resized first, and the run says so (a warning, not an error).
 */
export function prepareMask(mask: MaskImage, width: number, height: number): { mask: Float32Array; notices: string[] } {
  const notices: string[] = [];
  let m = mask;
  if (mask.width !== width || mask.height !== height) {
    m = resizeMask(mask, width, height);
    notices.push(`the mask is ${mask.width}x${mask.height}; resized to the image's ${width}x${height}`);
  }
  const out = Float32Array.from(m.data, (v) => (v >= 0.5 ? 1 : 0));
  if (!out.includes(1)) notices.push('the mask is all black: nothing is repainted (white = repaint)');
  return { mask: out, notices };
}

/** diffusers' `image * (mask < 0.5)` in [-1, 1]: repainted pixels become 0, i.e. 0.5 grey in [0, 1]. */
export function maskedImage(img: RgbImage, mask: Float32Array): RgbImage {
  const data = img.data.slice();
  for (let p = 0; p < mask.length; p++) if (mask[p]! >= 0.5) data.fill(0.5, p * 3, p * 3 + 3);
  return { ...img, data };
}

/** The mask at latent size, `interpolate(mode="nearest")`: source index floor(i · H / h). */
export function latentMask(mask: Float32Array, width: number, height: number, w: number, h: number): Float32Array {
  const out = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    const sy = Math.floor((y * height) / h);
    for (let x = 0; x < w; x++) out[y * w + x] = mask[sy * width + Math.floor((x * width) / w)]!;
  }
  return out;
}

/**
 * The 9-channel UNet's input: [latents | mask | masked-image latents] on the channel axis. `mask` and
 * `masked` are laid out for the CFG batch; a step that drops guidance (CFG truncation) gets their
 * conditional half (the halves are equal).
 */
export function concatMaskDenoiser(next: Denoiser, mask: Tensor, masked: Tensor): Denoiser {
  return (step, t, sample, feeds, route) => {
    const [n, c, h, w] = sample.dims as [number, number, number, number];
    const hw = h * w, mc = mask.dims[1]!, kc = masked.dims[1]!, off = mask.dims[0]! - n;
    const data = new Float32Array(n * (c + mc + kc) * hw);
    for (let b = 0; b < n; b++) {
      const o = b * (c + mc + kc) * hw;
      data.set(sample.data.subarray(b * c * hw, (b + 1) * c * hw), o);
      data.set(mask.data.subarray((off + b) * mc * hw, (off + b + 1) * mc * hw), o + c * hw);
      data.set(masked.data.subarray((off + b) * kc * hw, (off + b + 1) * kc * hw), o + (c + mc) * hw);
    }
    return next(step, t, { data, dims: [n, c + mc + kc, h, w] }, feeds, route);
  };
}

/**
 * The latent blend for ordinary UNets: after step i, keep the model's latents inside the mask and the
 * image's latents, re-noised to the next timestep with the start's noise, outside it (none after the last).
 * `mask` is the latent-size mask, one plane shared by every image and channel of `shape` [B, C, h, w].
 */
export function latentBlend(scheduler: Scheduler, timesteps: readonly number[], image: Float32Array, noise: Float32Array, mask: Float32Array): (i: number, latents: Float32Array) => Float32Array {
  const hw = mask.length;
  return (i, latents) => {
    const proper = i < timesteps.length - 1 ? scheduler.addNoise(image, noise, timesteps[i + 1]!) : image;
    const out = new Float32Array(latents.length);
    for (let k = 0; k < latents.length; k++) {
      const m = mask[k % hw]!;
      out[k] = (1 - m) * proper[k]! + m * latents[k]!;
    }
    return out;
  };
}
