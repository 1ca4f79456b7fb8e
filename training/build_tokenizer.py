"""Builds the CLIP-style BPE tokenizer from the training captions (pure Python, deterministic).

    python3 training/build_tokenizer.py .train-carry/data/index.json assets/models/emoji-sd/tokenizer
Vocabulary in CLIP's order: 256 byte chars (bytes_to_unicode), the same with </w>, merges, specials.
Held-out concepts' captions are not used, so their words split into learned sub-words.
"""
import collections, json, os, re, sys
sys.path.insert(0, os.path.dirname(__file__))
from captions import STYLE_WORDS, variants, load_index

MAX_MERGES = 3000


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b); cs.append(256 + n); n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


# CLIPTokenizer's pre-tokenizer: letter runs, single digits, other non-space runs
PAT = re.compile(r"'s|'t|'re|'ve|'m|'ll|'d|[^\W\d_]+|\d|[^\s\w]+|_+", re.I)


def train_bpe(texts):
    be = bytes_to_unicode()
    words = collections.Counter()
    for t in texts:
        for w in PAT.findall(t.lower()):
            enc = "".join(be[b] for b in w.encode("utf-8"))
            words[tuple(enc[:-1]) + (enc[-1] + "</w>",)] += 1
    words = dict(words)
    merges = []
    while len(merges) < MAX_MERGES:
        pairs = collections.Counter()
        for w, c in words.items():
            for a, b in zip(w, w[1:]):
                pairs[(a, b)] += c
        if not pairs:
            break
        best, cnt = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))
        if cnt < 2:
            break
        merges.append(best)
        nw = {}
        for w, c in words.items():
            if best[0] in w:
                out, i = [], 0
                while i < len(w):
                    if i < len(w) - 1 and (w[i], w[i + 1]) == best:
                        out.append(w[i] + w[i + 1]); i += 2
                    else:
                        out.append(w[i]); i += 1
                w = tuple(out)
            nw[w] = nw.get(w, 0) + c
        words = nw
    vocab = list(be.values())
    vocab += [v + "</w>" for v in vocab]
    vocab += ["".join(m) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    assert len(set(vocab)) == len(vocab)
    return {t: i for i, t in enumerate(vocab)}, merges


def main(index_path, out_dir):
    ix = load_index(index_path)
    texts = [c for con in ix["concepts"] if not con["heldout"] for s in STYLE_WORDS for c in variants(con, s)]
    vocab, merges = train_bpe(texts)
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(os.path.join(out_dir, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "\n".join(f"{a} {b}" for a, b in merges) + "\n")
    special = {"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>",
               "pad_token": "<|endoftext|>"}
    with open(os.path.join(out_dir, "special_tokens_map.json"), "w") as f:
        json.dump(special, f, indent=2)
    with open(os.path.join(out_dir, "tokenizer_config.json"), "w") as f:
        json.dump({"model_max_length": 77, "do_lower_case": True, **special, "errors": "replace",
                   "add_prefix_space": False, "tokenizer_class": "CLIPTokenizer"}, f, indent=2)
    print(f"{len(texts)} captions, {len(merges)} merges, vocab {len(vocab)}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
