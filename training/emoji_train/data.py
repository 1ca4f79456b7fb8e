"""The dataset (index.json + images.png.bin, pixel-art rows appended), caption tokens, the latents and
which rows each stage trains on."""
import io, json, os
from collections import namedtuple
import numpy as np
import torch
from captions import variants
from .common import STYLES, log

# what the generator stages train from: latents [N, 4, 16, 16] fp16 (torch), caption ids [N, 4, L] int16,
# the empty caption [77] int32 (numpy), and the per-row concept/style/held-out arrays
TrainData = namedtuple("TrainData", "lat ids empty meta")


def train_rows(meta, style=None):
    """Rows a generator stage learns from: never a held-out concept; the three base styles, or one style."""
    return ~meta["held"] & ((meta["style"] < 3) if style is None else (meta["style"] == style))


def load_latents(st):
    """[N, 4, 16, 16] fp16 in dataset order; the pixel-art rows (last) only where they were carried."""
    parts = [st.p(f) for f in ("latents_main.npy", "latents_pixel.npy") if os.path.exists(st.p(f))]
    if not parts or not parts[0].endswith("main.npy"):
        return None
    return torch.from_numpy(np.concatenate([np.load(p) for p in parts]))


def pixelate(x):
    """'pixel art' look for LoRA 2: 32x32 cells (4 px), 5 levels a channel."""
    n = x.shape[0]
    b = x.reshape(n, 32, 4, 32, 4, 3).astype(np.float32).mean((2, 4))
    q = np.round(b / 255 * 4) * 63.75
    return np.repeat(np.repeat(q, 4, 1), 4, 2).round().clip(0, 255).astype(np.uint8)


def load_dataset(data_dir, need_images):
    ix = json.load(open(os.path.join(data_dir, "index.json")))
    con = ix["concepts"]
    ci = np.array([im["concept"] for im in ix["images"]], np.int64)
    si = np.array([im["style"] for im in ix["images"]], np.int64)  # 0..3 as STYLES
    pix_src = np.nonzero(si < 3)[0]  # pixel variants of the three base styles
    ci = np.concatenate([ci, ci[pix_src]]); si = np.concatenate([si, np.full(len(pix_src), 4)])
    held = np.array([c["heldout"] for c in con])[ci]
    imgs = None
    if need_images:
        from PIL import Image
        blob = open(os.path.join(data_dir, "images.png.bin"), "rb").read()
        imgs = np.stack([np.asarray(Image.open(io.BytesIO(blob[im["offset"]:im["offset"] + im["length"]])).convert("RGB"))
                         for im in ix["images"]])
        imgs = np.concatenate([imgs, pixelate(imgs[pix_src])])
        log(f"decoded {len(imgs)} images {imgs.shape}")
    return ix, dict(concept=ci, style=si, held=held), imgs


def tokenize_all(tok, concepts, meta):
    caps = [variants(concepts[c], STYLES[s]) for c, s in zip(meta["concept"], meta["style"])]
    flat = [c for cs in caps for c in cs]
    ids = tok(flat, padding="max_length", max_length=77, truncation=True).input_ids
    ids = np.array(ids, np.int32).reshape(len(caps), len(caps[0]), 77)
    empty = np.array(tok("", padding="max_length", max_length=77).input_ids, np.int32)
    pad = empty[-1]
    L = int(max(1 + np.max(np.nonzero((ids != pad).any((0, 1)))[0]), 8))  # keep only the used length
    return ids[:, :, :L + 1].astype(np.int16), empty


def load_tokens(st, tok, concepts, meta):
    """tokenize_all, once per state (tokens.npz)."""
    if os.path.exists(st.p("tokens.npz")):
        z = np.load(st.p("tokens.npz"))
        return z["ids"], z["empty"]
    ids, empty = tokenize_all(tok, concepts, meta)
    np.savez_compressed(st.p("tokens.npz"), ids=ids, empty=empty)
    log(f"tokenized {ids.shape}")
    return ids, empty


def expand_ids(ids16, empty):
    """[B, L] -> [B, 77] padded like the tokenizer (pad = <|endoftext|>)."""
    b, L = ids16.shape
    out = empty[None].repeat(b, 1).clone()
    out[:, :L] = ids16.long()
    return out
