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

/** diffusers' force_zeros_for_empty_prompt: a zero negative row in front of the one positive row. */
export function withZeroNegative(rows: Tensor): Tensor {
  const [n, ...rest] = rows.dims as [number, ...number[]];
  if (n !== 1) throw new Error(`expected one positive row to put a zero negative in front of, got ${n}`);
  const out = new Float32Array(2 * rows.data.length);
  out.set(rows.data, rows.data.length);
  return { data: out, dims: [2, ...rest] };
}
