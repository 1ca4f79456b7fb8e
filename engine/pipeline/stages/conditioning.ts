import type { Tensor } from '../denoiser';

/**
 * Conditioning feeds in the loop's CFG layout: rows [negative, positive] (or [positive] without
 * guidance) each repeated once per image, as diffusers orders them. Every batched conditioning
 * feed goes through here: SD's encoder_hidden_states now; SDXL's pooled text_embeds and time_ids
 * are added conditioning laid out the same way.
 */
export function perImage(rows: Tensor, batch: number): Tensor {
  const [n, ...rest] = rows.dims as [number, ...number[]];
  const per = rows.data.length / n;
  const out = new Float32Array(n * batch * per);
  for (let i = 0; i < n; i++) {
    for (let b = 0; b < batch; b++) out.set(rows.data.subarray(i * per, (i + 1) * per), (i * batch + b) * per);
  }
  return { data: out, dims: [n * batch, ...rest] };
}

/** The texts a guided run encodes, in the layout perImage expects. */
export const cfgTexts = (prompt: string, negative: string, cfg: boolean): string[] => (cfg ? [negative, prompt] : [prompt]);
