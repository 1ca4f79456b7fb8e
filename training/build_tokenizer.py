"""Builds the CLIP-style BPE tokenizer from the training captions (pure Python, deterministic).

    python3 training/build_tokenizer.py .train-carry/data/index.json assets/models/emoji-sd/tokenizer
Vocabulary in CLIP's order: 256 byte chars (bytes_to_unicode), the same with </w>, merges, specials.
Held-out concepts' captions are not used, so their words split into learned sub-words.
"""
import os, re, sys
sys.path.insert(0, os.path.dirname(__file__))
from captions import STYLE_WORDS, variants, load_index
from clip_bpe import save_clip_tokenizer, train_bpe

MAX_MERGES = 3000
# CLIPTokenizer's pre-tokenizer: letter runs, single digits, other non-space runs
PAT = re.compile(r"'s|'t|'re|'ve|'m|'ll|'d|[^\W\d_]+|\d|[^\s\w]+|_+", re.I)


def main(index_path, out_dir):
    ix = load_index(index_path)
    texts = [c for con in ix["concepts"] if not con["heldout"] for s in STYLE_WORDS for c in variants(con, s)]
    vocab, merges = train_bpe(texts, PAT, MAX_MERGES)
    save_clip_tokenizer(out_dir, vocab, merges)
    print(f"{len(texts)} captions, {len(merges)} merges, vocab {len(vocab)}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
