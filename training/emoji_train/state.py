"""The run's state between device calls: stage checkpoints, meta.json, safetensors files, and the
compact copy that returns via $OUT."""
import io, json, math, os, shutil, tarfile
import torch
import torch.nn as nn
from .common import log

# inputs that never change once made, carried in their own folders (`extras`), not in the state
CARRIED_APART = ("latents_main.npy", "latents_pixel.npy", "vae.safetensors", "classifier.safetensors")


class State:
    """Full checkpoints live in /tmp (kept while the machine is warm); a compact copy (fp16 EMA
    weights, tokens, LoRAs, meta) returns via $OUT and is carried back in .train-carry/state.
    Inputs that never change once made (latents, VAE, classifier) are carried from `extras`
    folders, each only in the calls that need it (a call carries at most 64 MiB)."""

    def __init__(s, d, carried, extras=()):
        s.d = d
        os.makedirs(d, exist_ok=True)
        mine, theirs = s._meta(d), s._meta(carried) if carried else None
        if theirs and theirs.get("gen", 0) > (mine or {}).get("gen", -1):
            log(f"restoring carried state gen {theirs['gen']} (local gen {(mine or {}).get('gen')})")
            for f in os.listdir(carried):
                src = os.path.join(carried, f)
                if os.path.isdir(src):
                    shutil.copytree(src, os.path.join(d, f), dirs_exist_ok=True)
                else:
                    shutil.copy(src, os.path.join(d, f))
            for f in os.listdir(d):  # full checkpoints older than the carried state are stale
                if f.endswith(".full.pt"):
                    os.remove(os.path.join(d, f))
        for x in extras:
            for f in os.listdir(x) if os.path.isdir(x) else []:
                if not os.path.exists(os.path.join(d, f)):
                    shutil.copy(os.path.join(x, f), os.path.join(d, f))
        s.meta = s._meta(d) or {"gen": 0, "done": []}
        s.made = set()  # files carried apart that this call made, so they go back once

    @staticmethod
    def _meta(d):
        p = os.path.join(d, "meta.json")
        return json.load(open(p)) if os.path.exists(p) else None

    def p(s, name):
        return os.path.join(s.d, name)

    def done(s, stage):
        return stage in s.meta["done"]

    def save(s, stage=None, **kw):
        if stage and stage not in s.meta["done"]:
            s.meta["done"].append(stage)
        s.meta.update(kw)
        s.meta["gen"] += 1
        json.dump(s.meta, open(s.p("meta.json"), "w"), indent=1)


def save_sd(model_or_sd, path, dtype=torch.float16, metadata=None):
    from safetensors.torch import save_file
    sd = model_or_sd.state_dict() if isinstance(model_or_sd, nn.Module) else model_or_sd
    save_file({k: v.detach().to("cpu", dtype if v.is_floating_point() else v.dtype).contiguous() for k, v in sd.items()},
              path, metadata=metadata)


def load_sd(path):
    from safetensors.torch import load_file
    return {k: v.float() if v.is_floating_point() else v for k, v in load_file(path).items()}


def pack(st, ret):
    """Compact state (no full checkpoints; what is carried apart only in the call that made it) + model
    folder -> $OUT as <=15 MiB tar parts."""
    os.makedirs(ret, exist_ok=True)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for f in sorted(os.listdir(st.d)):
            if not f.endswith(".full.pt") and (f not in CARRIED_APART or f in st.made):
                tf.add(st.p(f), arcname=f"state/{f}")
    b = buf.getvalue()
    part = 15 * 2 ** 20
    for i in range(0, len(b), part):
        open(os.path.join(ret, f"ret.tar.{i // part:02d}"), "wb").write(b[i:i + part])
    log(f"packed {len(b)/1e6:.1f} MB into {math.ceil(len(b)/part)} parts")
