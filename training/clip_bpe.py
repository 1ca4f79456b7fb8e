"""CLIP-style byte-level BPE, trained from text (pure Python, deterministic), and the tokenizer folder
that transformers' CLIPTokenizer loads. Shared by the embedded model's tokenizer (build_tokenizer.py)
and the parity fixture's (test/parity/reference/make_tiny_sd.py)."""
import collections, json, os

SPECIALS = {"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>",
            "pad_token": "<|endoftext|>"}


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b); cs.append(256 + n); n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def train_bpe(texts, pattern, max_merges):
    """Words are `pattern`'s matches in the lower-cased texts; merges the most frequent pair (ties: the
    largest pair) until max_merges or no pair occurs twice. Vocabulary in CLIP's order: 256 byte chars,
    the same with </w>, merges, specials."""
    be = bytes_to_unicode()
    words = collections.Counter()
    for t in texts:
        for w in pattern.findall(t.lower()):
            enc = "".join(be[b] for b in w.encode("utf-8"))
            words[tuple(enc[:-1]) + (enc[-1] + "</w>",)] += 1
    words = dict(words)
    merges = []
    while len(merges) < max_merges:
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
    vocab += [SPECIALS["bos_token"], SPECIALS["eos_token"]]
    assert len(set(vocab)) == len(vocab)
    return {t: i for i, t in enumerate(vocab)}, merges


def save_clip_tokenizer(out_dir, vocab, merges):
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(os.path.join(out_dir, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "\n".join(f"{a} {b}" for a, b in merges) + "\n")
    with open(os.path.join(out_dir, "special_tokens_map.json"), "w") as f:
        json.dump(SPECIALS, f, indent=2)
    with open(os.path.join(out_dir, "tokenizer_config.json"), "w") as f:
        json.dump({"model_max_length": 77, "do_lower_case": True, **SPECIALS, "errors": "replace",
                   "add_prefix_space": False, "tokenizer_class": "CLIPTokenizer"}, f, indent=2)
