import type { ClipTokenizer } from '../../tokenizer/clip';
import type { Tensor } from '../denoiser';
import type { Graph } from '../session-runner';

/** A text encoder's outputs by role: last hidden state (SD), penultimate hidden state and pooled embedding (SDXL). */
export type TextOutput = 'last' | 'penultimate' | 'pooled';

/**
 * Which output plays each role, from the session's output names as diffusers/Optimum export
 * them: `last_hidden_state` (else output 0), `hidden_states.N` (penultimate = the second last),
 * `text_embeds` or `pooler_output`.
 */
export function textOutputNames(outputs: readonly string[]): Partial<Record<TextOutput, string>> {
  const hidden = outputs.filter((o) => /^hidden_states\.\d+$/.test(o)).sort((a, b) => Number(a.split('.')[1]) - Number(b.split('.')[1]));
  return {
    last: outputs.includes('last_hidden_state') ? 'last_hidden_state' : outputs[0],
    penultimate: hidden.length >= 2 ? hidden[hidden.length - 2] : undefined,
    pooled: ['text_embeds', 'pooler_output'].find((o) => outputs.includes(o)),
  };
}

/** Encodes `texts` (one row each) and returns the outputs asked for; a missing one is named with what the graph has. */
export async function encodeText<K extends TextOutput>(te: Graph, tok: ClipTokenizer, texts: readonly string[], want: readonly K[]): Promise<Record<K, Tensor>> {
  const names = textOutputNames(te.session.outputNames);
  for (const k of want) {
    if (!names[k]) throw new Error(`${te.file}: no ${k} output (outputs: ${te.session.outputNames.join(', ')}); export it with output_hidden_states`);
  }
  const ids = new Int32Array(texts.length * tok.maxLength);
  texts.forEach((t, i) => ids.set(tok.encode(t), i * tok.maxLength));
  const out = await te.runAll({ input_ids: { data: ids, dims: [texts.length, tok.maxLength] } });
  return Object.fromEntries(want.map((k) => [k, out[names[k]!]!])) as Record<K, Tensor>;
}

/** A text encoder graph with the tokenizer it reads. */
export interface TextEncoderPair {
  graph: Graph;
  tokenizer: ClipTokenizer;
}

/**
 * SDXL's prompt embeddings, as diffusers' StableDiffusionXLPipeline.encode_prompt makes them: each
 * encoder's penultimate hidden state (hidden_states[-2]) concatenated on the last axis, and the
 * pooled embedding of the last encoder (text_encoder_2's projection).
 */
export async function encodePromptXL(encoders: readonly TextEncoderPair[], texts: readonly string[]): Promise<{ hidden: Tensor; pooled: Tensor }> {
  const hidden: Tensor[] = [];
  let pooled: Tensor | undefined;
  for (const [i, e] of encoders.entries()) {
    if (i < encoders.length - 1) hidden.push((await encodeText(e.graph, e.tokenizer, texts, ['penultimate'])).penultimate);
    else ({ penultimate: hidden[i], pooled } = await encodeText(e.graph, e.tokenizer, texts, ['penultimate', 'pooled']));
  }
  return { hidden: concatLast(hidden), pooled: pooled! };
}

/** Tensors equal in every axis but the last, joined along it (torch.concat(..., dim=-1)). */
export function concatLast(parts: readonly Tensor[]): Tensor {
  const widths = parts.map((t) => t.dims[t.dims.length - 1]!);
  const lead = parts[0]!.dims.slice(0, -1);
  for (const t of parts) {
    if (t.dims.length !== lead.length + 1 || t.dims.slice(0, -1).some((d, i) => d !== lead[i])) {
      throw new Error(`cannot join text encoder outputs of shapes ${parts.map((x) => `[${x.dims.join(', ')}]`).join(' and ')} on the last axis`);
    }
  }
  const rows = lead.reduce((a, b) => a * b, 1), total = widths.reduce((a, b) => a + b, 0);
  const out = new Float32Array(rows * total);
  for (let r = 0; r < rows; r++) {
    let at = r * total;
    parts.forEach((t, k) => {
      out.set(t.data.subarray(r * widths[k]!, (r + 1) * widths[k]!), at);
      at += widths[k]!;
    });
  }
  return { data: out, dims: [...lead, total] };
}
