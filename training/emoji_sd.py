"""Emoji SD: trains the embedded default model (VAE, text encoder + UNet, style LoRAs, LCM-LoRA),
evaluates it, exports the diffusers ONNX layout and times it on CPU. Runs on the GPU machine.

    python3 training/emoji_sd.py --deadline 560 [--smoke]
Stages run in order and are skipped once done (state in /tmp/emoji-state, mirrored compactly to
$OUT so the next call resumes from .train-carry/state). See assets/models/emoji-sd/README.md.
The stages live in training/emoji_train/ (one module per concern); this file is the command line.
"""
import argparse, copy, functools, os, subprocess, sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from emoji_train.common import ROOT, UNET_CANDIDATES, log, now  # the run's clock (now) starts at this import
from emoji_train.autoencoder import stage_latents, stage_vae
from emoji_train.bench import bench_unet_cpu, choose_arch
from emoji_train.classifier import load_classifier, stage_classifier
from emoji_train.data import TrainData, load_dataset, load_latents, load_tokens
from emoji_train.evaluate import probe, stage_eval
from emoji_train.export import cpu_timing, export_onnx
from emoji_train.lcm import stage_lcm
from emoji_train.models import load_base, load_vae, make_tokenizer
from emoji_train.sheet import contact_sheet
from emoji_train.state import State, pack
from emoji_train.style_lora import stage_style_lora
from emoji_train.sweep import stage_sweep
from emoji_train.unet_stage import stage_unet


def parse_args():
    ap = argparse.ArgumentParser()
    ap.add_argument("--deadline", type=float, default=560)
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--data", default=os.path.join(ROOT, ".train-carry/data"))
    ap.add_argument("--carried", default=os.path.join(ROOT, ".train-carry/state"))
    ap.add_argument("--extras", nargs="*", default=[os.path.join(ROOT, ".train-carry", d) for d in ("lat", "evalkit")])
    ap.add_argument("--state", default="/tmp/emoji-state")
    ap.add_argument("--ret", default=None, help="folder whose contents return via $OUT")
    ap.add_argument("--unet-batch", type=int, default=1024)
    ap.add_argument("--unet-lr", type=float, default=1e-3)
    ap.add_argument("--unet-decay", action="store_true", help="anneal the UNet's lr over this call (its last)")
    ap.add_argument("--probe", type=int, default=0, help="after the UNet: base top-5 on this many training concepts")
    ap.add_argument("--finish", action="store_true",
                    help="after the UNet: LoRAs and LCM (need the latents), then eval, sheet, export, timing "
                         "(need the VAE and classifier); each runs when its inputs were carried")
    ap.add_argument("--sweep", action="store_true", help="after --finish's stages: guidance / LoRA weight sweep")
    ap.add_argument("--bench", default=None)
    return ap.parse_args()


def main():
    a = parse_args()
    if a.bench:
        return bench_unet_cpu(a.bench)
    torch.backends.cuda.matmul.allow_tf32 = True; torch.backends.cudnn.allow_tf32 = True
    torch.backends.cudnn.benchmark = True
    sm = a.smoke
    B = dict(vae=100, clf=50, lora=60, lcm=120) if not sm else dict(vae=6, clf=5, lora=4, lcm=6)
    st = State(a.state, None if sm else (a.carried if os.path.isdir(a.carried) else None), () if sm else a.extras)
    log("state", {k: v for k, v in st.meta.items() if k not in ("classifier_on_vae_recon", "bench")})
    bench_json = os.path.join(a.state, "bench.json")
    need_img = not (st.done("latents") and st.done("classifier"))
    bench = None
    if not st.meta.get("unet_arch") and not sm and not os.path.exists(bench_json):
        bench = subprocess.Popen([sys.executable, __file__, "--bench", bench_json], stdout=open("/tmp/emoji-bench.log", "w"),
                                 stderr=subprocess.STDOUT)
    ix, meta, imgs = load_dataset(a.data, need_img)
    concepts = ix["concepts"]
    if sm:  # a small slice of every kind, same code paths
        keep = np.nonzero(meta["concept"] < 40)[0]
        meta = {k: v[keep] for k, v in meta.items()}
        imgs = imgs[keep] if imgs is not None else None
    tok = make_tokenizer()
    ids, empty = load_tokens(st, tok, concepts, meta)
    imgs_gpu = torch.from_numpy(imgs).permute(0, 3, 1, 2).contiguous().cuda() if imgs is not None else None
    vae = clf = recs = None
    if not st.done("vae"):
        vae = stage_vae(st, imgs_gpu, B["vae"])
    elif os.path.exists(st.p("vae.safetensors")):
        vae = load_vae(st)
    if vae is not None:
        vae.register_to_config(scaling_factor=st.meta.get("scaling_factor", 1.0))
    if not st.done("latents"):
        lat, recs = stage_latents(st, vae, imgs_gpu, meta)
        vae.register_to_config(scaling_factor=st.meta["scaling_factor"])
    lat = load_latents(st)
    if not st.done("classifier"):
        clf = stage_classifier(st, imgs_gpu, recs, meta, len(concepts), B["clf"])
    elif os.path.exists(st.p("classifier.safetensors")):
        clf = load_classifier(st, len(concepts))
    del imgs_gpu, recs
    torch.cuda.empty_cache()
    log("carried:", {"latents": None if lat is None else tuple(lat.shape), "vae": vae is not None, "classifier": clf is not None})
    if not st.meta.get("unet_arch"):
        if sm:
            arch, res = list(UNET_CANDIDATES[-1]), None
        else:
            arch, res = choose_arch(bench_json, now() + 60)
        st.save(None, unet_arch=arch, bench=res)
        log("UNet arch", arch, res)
    data = TrainData(lat, ids, empty, meta)
    # time kept after the UNet for the later stages of this call (estimates, s)
    evalkit = vae is not None and clf is not None
    after = (((2 * B["lora"] + B["lcm"] + 20) if lat is not None else 0) + (150 if evalkit else 0)) if (a.finish or sm) \
        else (30 if a.probe and evalkit else 0)
    unet_budget = 12 if sm else a.deadline - now() - after - 25
    if unet_budget > 10 and not st.done("unet") and lat is not None:
        stage_unet(st, tok, data, unet_budget, a.unet_batch, a.unet_lr, a.unet_decay or sm)
    base = functools.cache(lambda: load_base(st, tok))  # (te, unet): probe, --finish and --sweep share one load
    if a.probe and evalkit and not sm:
        probe(st, vae, tok, *base(), clf, concepts, a.probe)
    if a.finish or sm:
        st.save("unet")
        finish(st, a, B, tok, data, vae, clf, concepts, *base())
    if a.sweep and evalkit and not st.done("sweep"):
        stage_sweep(st, vae, tok, *base(), clf, concepts)
    if bench is not None:
        bench.wait(timeout=5) if bench.poll() is None else None
    if a.ret:
        pack(st, a.ret)
    log("done")


def finish(st, a, B, tok, data, vae, clf, concepts, te, unet):
    """--finish's stages in order, each once its inputs were carried; one failing keeps the others' results."""
    sm, lat = a.smoke, data.lat
    evalkit = vae is not None and clf is not None
    have_pixel = lat is not None and lat.shape[0] == len(data.meta["style"])
    for stage, ready, fn in (
            ("lora_openmoji", lambda: lat is not None,
             lambda: stage_style_lora(st, "lora_openmoji", unet, te, data, 3, 16, B["lora"])),
            ("lora_pixel", lambda: have_pixel,
             lambda: stage_style_lora(st, "lora_pixel", unet, te, data, 4, 16, B["lora"])),
            ("lcm", lambda: lat is not None, lambda: stage_lcm(st, unet, te, data, B["lcm"])),
            ("eval", lambda: evalkit,
             lambda: stage_eval(st, vae, tok, te, unet, clf, concepts, 24 if sm else None)),
            ("sheet", lambda: vae is not None, lambda: contact_sheet(st, vae, tok, te, unet, concepts, st.p("contact-sheet.png"))),
            ("export", lambda: vae is not None,
             lambda: st.save("export", export_info=export_onnx(st, copy.deepcopy(vae), copy.deepcopy(te),
                                                               copy.deepcopy(unet), st.p("model")))),
            ("timing", lambda: os.path.exists(st.p("model/unet/model.onnx")),
             lambda: st.save("timing", cpu_timing=cpu_timing(st.p("model"), tok, 3 if sm else 20)[0]))):
        if st.done(stage):
            continue
        if not ready():
            log(f"stage {stage}: its inputs were not carried in this call; later")
            continue
        try:
            fn()
            st.save(stage)
        except Exception as e:  # noqa: BLE001 - one stage failing must not lose the others' results
            import traceback; traceback.print_exc()
            log(f"stage {stage} failed: {e!r}")


if __name__ == "__main__":
    main()
