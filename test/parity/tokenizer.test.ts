import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadClipTokenizer } from '../../engine/tokenizer/clip';
import { FIXTURE_MODEL, reference } from './reference';

describe("CLIP tokenizer vs transformers' CLIPTokenizer", () => {
  const tok = loadClipTokenizer(join(FIXTURE_MODEL, 'tokenizer'));
  it('covers at least 20 tricky prompts (punctuation, case, unicode, > 77 tokens)', () => {
    expect(reference.tokenizer.length).toBeGreaterThanOrEqual(20);
    expect(reference.tokenizer.some((c) => c.ids[75] !== tok.padId)).toBe(true); // one fills all 77 (truncated)
  });
  for (const c of reference.tokenizer) {
    it(`ids identical for ${JSON.stringify(c.prompt.slice(0, 40))}`, () => {
      expect(Array.from(tok.encode(c.prompt))).toEqual(c.ids);
    });
  }
});
