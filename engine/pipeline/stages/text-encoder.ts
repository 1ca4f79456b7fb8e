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
