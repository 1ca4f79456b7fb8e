import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { LIMITS, ReadError, readTextBounded } from '../io/read-file';
import { readJsonFile } from '../model/files';

/**
 * CLIP's BPE tokenizer from a diffusers `tokenizer/` folder (vocab.json + merges.txt), run by
 * tokenizers.js. Those folders rarely carry a tokenizer.json, so we describe CLIP's pipeline
 * (as transformers' CLIP converter does) and hand it the vocabulary and merges.
 */
export interface ClipTokenizer {
  readonly maxLength: number;
  readonly padId: number;
  /** ids padded/truncated to maxLength with start and end tokens, as diffusers calls CLIPTokenizer. */
  encode(text: string): Int32Array;
  /** Number of tokens `text` takes before truncation (start/end included). */
  count(text: string): number;
  /** The words of `text` past the limit, which encode drops ('' when it all fits). */
  dropped(text: string): string;
}

const SPLIT = String.raw`'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+`;

export function loadClipTokenizer(dir: string): ClipTokenizer {
  const vocab = readJsonFile<Record<string, number>>(join(dir, 'vocab.json'), isVocab, 'an object of token -> id', LIMITS.tokenizer);
  const mergesPath = join(dir, 'merges.txt');
  const mergesText = readTextBounded(mergesPath, { maxBytes: LIMITS.tokenizer, expected: 'the BPE merges of a CLIP tokenizer' });
  // Like CLIPTokenizer: the first line is a "#version" header, the rest "a b" pairs.
  const merges = mergesText.trim().split('\n').slice(1).filter((l) => l.length > 0);
  const bad = merges.findIndex((m) => m.split(' ').length !== 2);
  if (bad >= 0) throw new Error(`${mergesPath}: line ${bad + 2} is not a "left right" merge pair`);
  const config = readOptionalJson(join(dir, 'tokenizer_config.json'));
  const special = readOptionalJson(join(dir, 'special_tokens_map.json'));
  const token = (key: string, fallback: string): string => {
    const v = special[key] ?? config[key] ?? fallback;
    return typeof v === 'string' ? v : (v as { content: string }).content;
  };
  const bos = token('bos_token', '<|startoftext|>');
  const eos = token('eos_token', '<|endoftext|>');
  const unk = token('unk_token', '<|endoftext|>');
  const pad = token('pad_token', eos);
  for (const [name, t] of [['bos_token', bos], ['eos_token', eos], ['pad_token', pad]] as const) {
    if (!(t in vocab)) throw new Error(`${join(dir, 'vocab.json')}: ${name} "${t}" is not in the vocabulary`);
  }
  const maxLength = typeof config.model_max_length === 'number' && config.model_max_length < 1e6 ? config.model_max_length : 77;

  const tokenizer = new Tokenizer(
    {
      normalizer: {
        type: 'Sequence',
        normalizers: [{ type: 'NFC' }, { type: 'Replace', pattern: { Regex: String.raw`\s+` }, content: ' ' }, { type: 'Lowercase' }],
      },
      pre_tokenizer: {
        type: 'Sequence',
        pretokenizers: [
          { type: 'Split', pattern: { Regex: SPLIT }, behavior: 'Removed', invert: true },
          { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
        ],
      },
      model: { type: 'BPE', vocab, merges, unk_token: unk, end_of_word_suffix: '</w>', continuing_subword_prefix: '', fuse_unk: false, dropout: null },
      decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      post_processor: null,
      added_tokens: [bos, eos].map((content) => ({ id: vocab[content], content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    },
    { ...config, model_max_length: maxLength },
  );
  const bosId = vocab[bos]!, eosId = vocab[eos]!, padId = vocab[pad]!;
  const body = (text: string): number[] => tokenizer.encode(text, { add_special_tokens: false }).ids;

  return {
    maxLength,
    padId,
    encode(text) {
      const ids = [bosId, ...body(text).slice(0, maxLength - 2), eosId];
      const out = new Int32Array(maxLength).fill(padId);
      out.set(ids);
      return out;
    },
    count: (text) => body(text).length + 2,
    dropped(text) {
      if (body(text).length + 2 <= maxLength) return '';
      // the longest run of whole words that fits (binary search: a prompt is at most a few thousand characters)
      const words = text.split(/(?<=\s)/);
      let lo = 0, hi = words.length;
      while (lo < hi) {
        const mid = Math.ceil((lo + hi) / 2);
        if (body(words.slice(0, mid).join('')).length + 2 <= maxLength) lo = mid;
        else hi = mid - 1;
      }
      return words.slice(lo).join('').trim();
    },
  };
}

function isVocab(v: unknown): v is Record<string, number> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((x) => Number.isInteger(x));
}

/** An optional tokenizer config: absent is {}, anything else present must be a readable JSON object. */
function readOptionalJson(path: string): Record<string, unknown> {
  try {
    return readJsonFile<Record<string, unknown>>(path, (v): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v), 'a JSON object');
  } catch (e) {
    if (e instanceof ReadError && e.code === 'ENOENT') return {};
    throw e;
  }
}
