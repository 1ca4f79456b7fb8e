"""Emoji SD: trains the embedded default model (VAE, text encoder + UNet, style LoRAs, LCM-LoRA),
evaluates it, exports the diffusers ONNX layout and times it on CPU. Runs on the GPU machine.

    python3 training/emoji_sd.py --deadline 560 [--smoke]
Stages run in order and are skipped once done (state in /tmp/emoji-state, mirrored compactly to
$OUT so the next call resumes from .train-carry/state). See assets/models/emoji-sd/README.md.
"""
import argparse, copy, io, json, math, os, shutil, subprocess, sys, tarfile, time
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from captions import STYLE_WORDS, BASE_STYLES, variants

T0 = time.time()
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOK_DIR = os.path.join(ROOT, "assets/models/emoji-sd/tokenizer")
STYLES = ["twemoji", "noto", "fluent", "openmoji", "pixel"]
SIZE = 128
SD15_SCHEDULER = {"_class_name": "PNDMScheduler", "_diffusers_version": "0.6.0", "beta_end": 0.012,
                  "beta_schedule": "scaled_linear", "beta_start": 0.00085, "num_train_timesteps": 1000,
                  "set_alpha_to_one": False, "skip_prk_steps": True, "steps_offset": 1,
                  "trained_betas": None, "clip_sample": False}
VAE_CFG = dict(in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 4,
               up_block_types=("UpDecoderBlock2D",) * 4, block_out_channels=(32, 64, 64, 64),
               layers_per_block=1, latent_channels=4, norm_num_groups=32, sample_size=SIZE)
TE_CFG = dict(hidden_size=128, intermediate_size=512, num_hidden_layers=4, num_attention_heads=4,
              max_position_embeddings=77, projection_dim=128, hidden_act="quick_gelu", layer_norm_eps=1e-5)
# UNet candidates, preferred first; the first whose measured CPU time and size fit is trained.
UNET_CANDIDATES = [(64, 128, 128), (64, 96, 128), (48, 96, 128), (32, 64, 128)]
UNET_MAX_PARAMS = 5.6e6  # fp16 weights: keeps the model folder (with LoRAs) under 20 MB
STYLE_LORA_TARGETS = ("to_q", "to_k", "to_v", "to_out.0", "ff.net.0.proj", "ff.net.2")
# as diffusers' train_lcm_distill_lora_sd_wds.py
LCM_TARGETS = STYLE_LORA_TARGETS + ("proj_in", "proj_out", "conv1", "conv2", "conv_shortcut",
                                    "downsamplers.0.conv", "upsamplers.0.conv", "time_emb_proj")


def now():
    return time.time() - T0


def log(*a):
    print(f"[{now():6.1f}s]", *a, flush=True)


def seed_all(s):
    torch.manual_seed(s); np.random.seed(s)


# ------------------------------------------------------------------ state
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


# ------------------------------------------------------------------ data
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


def expand_ids(ids16, empty):
    """[B, L] -> [B, 77] padded like the tokenizer (pad = <|endoftext|>)."""
    b, L = ids16.shape
    out = empty[None].repeat(b, 1).clone()
    out[:, :L] = ids16.long()
    return out


# ------------------------------------------------------------------ models
def make_tokenizer():
    from transformers import CLIPTokenizer
    return CLIPTokenizer.from_pretrained(TOK_DIR)


def make_te(tok):
    from transformers import CLIPTextConfig, CLIPTextModel
    v = tok.get_vocab()
    cfg = CLIPTextConfig(vocab_size=len(v), bos_token_id=v["<|startoftext|>"], eos_token_id=v["<|endoftext|>"],
                         pad_token_id=v["<|endoftext|>"], **TE_CFG)
    return CLIPTextModel(cfg)


def make_unet(arch, cross_dim=None):
    from diffusers import UNet2DConditionModel
    groups = 32 if min(arch) % 32 == 0 else 16
    return UNet2DConditionModel(
        sample_size=SIZE // 8, in_channels=4, out_channels=4, block_out_channels=tuple(arch), layers_per_block=2,
        down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=cross_dim or TE_CFG["hidden_size"], attention_head_dim=4, norm_num_groups=groups)


def make_vae():
    from diffusers import AutoencoderKL
    return AutoencoderKL(**VAE_CFG)


def nparams(m):
    return sum(p.numel() for p in m.parameters())


def fp16_round(m):
    """Shipped ONNX weights are fp16; evaluate exactly what ships."""
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(p.half().float())
    return m


# ------------------------------------------------------------------ LoRA (PEFT/diffusers key layout)
class LoRA(nn.Module):
    def __init__(s, base, r, scale=1.0):
        super().__init__()
        s.base, s.r, s.scale = base, r, scale
        if isinstance(base, nn.Linear):
            s.lora_A = nn.Linear(base.in_features, r, bias=False)
            s.lora_B = nn.Linear(r, base.out_features, bias=False)
        else:
            s.lora_A = nn.Conv2d(base.in_channels, r, base.kernel_size, base.stride, base.padding, bias=False)
            s.lora_B = nn.Conv2d(r, base.out_channels, 1, bias=False)
        nn.init.kaiming_uniform_(s.lora_A.weight, a=math.sqrt(5))
        nn.init.zeros_(s.lora_B.weight)
        s.enabled = True

    def forward(s, x, *a, **k):
        y = s.base(x, *a, **k)
        return y + s.scale * s.lora_B(s.lora_A(x)) if s.enabled else y


def lora_targets(unet, targets):
    out = []
    for name, mod in unet.named_modules():
        if isinstance(mod, (nn.Linear, nn.Conv2d)) and any(name == t or name.endswith("." + t) for t in targets):
            out.append(name)
    return out


def inject_lora(unet, targets, rank):
    layers = {}
    for name in lora_targets(unet, targets):
        parent_name, child = name.rsplit(".", 1)
        parent = unet.get_submodule(parent_name)
        l = LoRA(getattr(parent, child), rank).to(next(unet.parameters()).device)
        setattr(parent, child, l)
        layers[name] = l
    return layers


def set_lora(layers, on):
    for l in layers.values():
        l.enabled = on


def lora_state(layers):
    sd = {}
    for name, l in layers.items():
        sd[f"unet.{name}.lora_A.weight"] = l.lora_A.weight
        sd[f"unet.{name}.lora_B.weight"] = l.lora_B.weight
    return sd


def lora_numel(unet, targets, rank):
    n = 0
    for name in lora_targets(unet, targets):
        m = unet.get_submodule(name)
        if isinstance(m, nn.Linear):
            n += rank * (m.in_features + m.out_features)
        else:
            n += rank * (m.in_channels * m.kernel_size[0] * m.kernel_size[1] + m.out_channels)
    return n


def fuse_lora(unet, lora_sd, scale=1.0):
    """Returns a copy of unet with W += scale * B @ A merged in (for diffusers pipelines)."""
    u = copy.deepcopy(unet)
    with torch.no_grad():
        for k, a in lora_sd.items():
            if not k.endswith(".lora_A.weight"):
                continue
            name = k[len("unet."):-len(".lora_A.weight")]
            b = lora_sd[k.replace("lora_A", "lora_B")]
            m = u.get_submodule(name)
            a, b = a.to(m.weight), b.to(m.weight)
            delta = b.reshape(b.shape[0], -1) @ a.reshape(a.shape[0], -1)
            m.weight += scale * delta.reshape(m.weight.shape)
    return u


# ------------------------------------------------------------------ classifier (evaluation)
class Classifier(nn.Module):
    def __init__(s, n_concepts, n_styles=len(STYLES)):
        super().__init__()

        def blk(i, o, st):
            return nn.Sequential(nn.Conv2d(i, o, 3, st, 1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True),
                                 nn.Conv2d(o, o, 3, 1, 1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True))
        s.f = nn.Sequential(blk(3, 32, 1), blk(32, 64, 2), blk(64, 128, 2), blk(128, 256, 2),
                            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2))
        s.hc, s.hs = nn.Linear(256, n_concepts), nn.Linear(256, n_styles)

    def forward(s, x):  # x: [B,3,128,128] in [0,1]
        h = s.f(F.interpolate(x, size=64, mode="area") * 2 - 1)
        return s.hc(h), s.hs(h)


def augment(x, g):
    """Random affine (scale/shift/rotate), colour jitter, blur and noise; x in [0,1]."""
    b = x.shape[0]
    dev = x.device
    sc = torch.empty(b, device=dev).uniform_(0.85, 1.15, generator=g)
    rot = torch.empty(b, device=dev).uniform_(-0.15, 0.15, generator=g)
    tx, ty = (torch.empty(b, device=dev).uniform_(-0.08, 0.08, generator=g) for _ in range(2))
    th = torch.stack([torch.stack([sc * torch.cos(rot), -sc * torch.sin(rot), tx], 1),
                      torch.stack([sc * torch.sin(rot), sc * torch.cos(rot), ty], 1)], 1)
    grid = F.affine_grid(th, list(x.shape), align_corners=False)
    x = F.grid_sample(x * 2 - 1, grid, padding_mode="border", align_corners=False) * 0.5 + 0.5
    br = torch.empty(b, 1, 1, 1, device=dev).uniform_(-0.08, 0.08, generator=g)
    ct = torch.empty(b, 1, 1, 1, device=dev).uniform_(0.8, 1.2, generator=g)
    x = (x - 0.5) * ct + 0.5 + br
    blur = (torch.rand(b, 1, 1, 1, device=dev, generator=g) < 0.3).float()
    x = blur * F.avg_pool2d(x, 3, 1, 1, count_include_pad=False) + (1 - blur) * x
    x = x + 0.03 * torch.rand(b, 1, 1, 1, device=dev, generator=g) * torch.randn(x.shape, device=dev, generator=g)
    return x.clamp(0, 1)


# ------------------------------------------------------------------ stages
def stage_vae(st, imgs_gpu, budget, args):
    seed_all(1)
    vae = make_vae().cuda().train()
    log(f"VAE params {nparams(vae)/1e6:.2f}M, budget {budget:.0f}s")
    opt = torch.optim.AdamW(vae.parameters(), lr=4e-4, betas=(0.9, 0.99), weight_decay=0.0)
    g = torch.Generator("cuda").manual_seed(1)
    n, step, t_start = imgs_gpu.shape[0], 0, now()
    while now() - t_start < budget:
        idx = torch.randint(0, n, (64,), device="cuda", generator=g)
        x = imgs_gpu[idx].float() / 127.5 - 1
        flip = torch.rand(64, 1, 1, 1, device="cuda", generator=g) < 0.5
        x = torch.where(flip, x.flip(3), x)
        lr = 4e-4 * min(1, (step + 1) / 200) * (0.2 + 0.8 * 0.5 * (1 + math.cos(math.pi * min(1, (now() - t_start) / budget))))
        for gr in opt.param_groups:
            gr["lr"] = lr
        with torch.autocast("cuda", torch.bfloat16):
            post = vae.encode(x).latent_dist
            rec = vae.decode(post.sample()).sample.float()
        l1 = (rec - x).abs().mean()
        gx = lambda t: (t[..., :, 1:] - t[..., :, :-1], t[..., 1:, :] - t[..., :-1, :])
        edge = sum((a - b).abs().mean() for a, b in zip(gx(rec), gx(x)))
        kl = post.kl().float().mean()
        loss = l1 + 0.5 * edge + 2e-7 * kl
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
        opt.step()
        if step % 500 == 0:
            log(f"vae step {step} l1 {l1.item():.4f} edge {edge.item():.4f} kl {kl.item():.0f}")
        step += 1
    log(f"vae done: {step} steps, l1 {l1.item():.4f}")
    vae.eval()
    save_sd(vae, st.p("vae.safetensors"), torch.float32)
    st.made.add("vae.safetensors")
    st.save("vae", vae_steps=step, vae_seconds=round(now() - t_start, 1))
    return vae


@torch.no_grad()
def stage_latents(st, vae, imgs_gpu, meta):
    means, recs = [], []
    for i in range(0, imgs_gpu.shape[0], 512):
        x = imgs_gpu[i:i + 512].float() / 127.5 - 1
        m = vae.encode(x).latent_dist.mean
        means.append(m.half())
        recs.append(((vae.decode(m).sample.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8))
    lat = torch.cat(means)
    train = torch.from_numpy(~meta["held"] & (meta["style"] < 3)).cuda()
    sf = float(1.0 / lat[train].float().std())
    n_main = int((meta["style"] < 4).sum())  # pixel-art rows are appended last (load_dataset)
    np.save(st.p("latents_main.npy"), lat[:n_main].cpu().numpy())
    np.save(st.p("latents_pixel.npy"), lat[n_main:].cpu().numpy())
    st.made.update(("latents_main.npy", "latents_pixel.npy"))
    rec = torch.cat(recs)
    mse = float(((rec.float() - imgs_gpu.float()) / 255).pow(2).mean())
    psnr = 10 * math.log10(1 / mse)
    log(f"latents {tuple(lat.shape)} scaling_factor {sf:.4f} recon PSNR {psnr:.2f} dB")
    st.save("latents", scaling_factor=sf, vae_psnr=round(psnr, 2))
    return lat, rec


def stage_classifier(st, imgs_gpu, recs_gpu, meta, n_concepts, budget):
    seed_all(2)
    clf = Classifier(n_concepts).cuda().train()
    opt = torch.optim.AdamW(clf.parameters(), lr=2e-3, weight_decay=0.05)
    g = torch.Generator("cuda").manual_seed(2)
    yc = torch.from_numpy(meta["concept"]).cuda()
    ys = torch.from_numpy(meta["style"]).cuda()
    n, step, t_start = imgs_gpu.shape[0], 0, now()
    while now() - t_start < budget:
        idx = torch.randint(0, n, (512,), device="cuda", generator=g)
        use_rec = (torch.rand(512, device="cuda", generator=g) < 0.5)[:, None, None, None]
        x = torch.where(use_rec, recs_gpu[idx], imgs_gpu[idx]).float() / 255
        x = augment(x, g)
        frac = min(1, (now() - t_start) / budget)
        for gr in opt.param_groups:
            gr["lr"] = 2e-3 * min(1, (step + 1) / 100) * 0.5 * (1 + math.cos(math.pi * frac))
        with torch.autocast("cuda", torch.bfloat16):
            lc, ls = clf(x)
        loss = F.cross_entropy(lc.float(), yc[idx], label_smoothing=0.1) + 0.5 * F.cross_entropy(ls.float(), ys[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % 300 == 0:
            log(f"clf step {step} loss {loss.item():.3f}")
        step += 1
    clf.eval()
    acc = classify(clf, recs_gpu.float() / 255, yc, ys)
    log(f"classifier done {step} steps; on VAE reconstructions: {acc}")
    save_sd(clf, st.p("classifier.safetensors"))
    st.made.add("classifier.safetensors")
    st.save("classifier", classifier_steps=step, classifier_on_vae_recon=acc)
    return clf


@torch.no_grad()
def classify(clf, x, yc, ys, want_style=None):
    """x [N,3,128,128] in [0,1]; returns top-1/top-5 concept accuracy and style accuracy."""
    t1 = t5 = sa = 0
    for i in range(0, x.shape[0], 512):
        with torch.autocast("cuda", torch.bfloat16):
            lc, ls = clf(x[i:i + 512].cuda())
        top = lc.float().topk(5, 1).indices
        y = yc[i:i + 512]
        t1 += int((top[:, 0] == y).sum()); t5 += int((top == y[:, None]).any(1).sum())
        sa += int((ls.argmax(1) == (ys if want_style is None else want_style)[i:i + 512]).sum())
    n = x.shape[0]
    return {"n": n, "top1": round(t1 / n, 4), "top5": round(t5 / n, 4), "style_acc": round(sa / n, 4)}


def bench_unet_cpu(arch, out_json):
    """Exports random-init candidates and times them with onnxruntime, 2 threads (runs on CPU)."""
    import onnxruntime as ort
    torch.set_num_threads(4)
    res = []
    tmp = "/tmp/emoji-bench"
    os.makedirs(tmp, exist_ok=True)

    def ort_time(path, feeds, n=15):
        so = ort.SessionOptions(); so.intra_op_num_threads = 2; so.inter_op_num_threads = 1
        s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        for _ in range(3):
            s.run(None, feeds)
        ts = []
        for _ in range(n):
            t = time.perf_counter(); s.run(None, feeds); ts.append(time.perf_counter() - t)
        return float(np.median(ts))
    with torch.no_grad():
        vae = make_vae().eval()
        p = f"{tmp}/vd.onnx"
        torch.onnx.export(VD(vae), (torch.randn(1, 4, 16, 16),), p, input_names=["latent_sample"], output_names=["sample"],
                          opset_version=17, dynamo=False)
        vd = ort_time(p, {"latent_sample": np.random.randn(1, 4, 16, 16).astype(np.float32)}, 5)
        for a in UNET_CANDIDATES:
            u = make_unet(a).eval()
            p = f"{tmp}/u{a[0]}_{a[1]}_{a[2]}.onnx"
            torch.onnx.export(UN(u), (torch.randn(2, 4, 16, 16), torch.tensor([1.0]), torch.randn(2, 77, 128)), p,
                              input_names=["sample", "timestep", "encoder_hidden_states"], output_names=["out_sample"],
                              opset_version=17, dynamo=False)
            ms = ort_time(p, {"sample": np.random.randn(2, 4, 16, 16).astype(np.float32), "timestep": np.array([500.0], np.float32),
                              "encoder_hidden_states": np.random.randn(2, 77, 128).astype(np.float32)})
            est = 26 * ms + vd + 0.01
            res.append({"arch": a, "params": nparams(u), "unet_batch2_s": ms, "vae_decode_s": vd, "est_image_s": est})
            print("bench", res[-1], flush=True)
    json.dump(res, open(out_json, "w"), indent=1)


class TE(nn.Module):
    def __init__(s, m): super().__init__(); s.m = m
    def forward(s, input_ids): return s.m(input_ids=input_ids)[0]


class UN(nn.Module):
    def __init__(s, m): super().__init__(); s.m = m
    def forward(s, sample, timestep, encoder_hidden_states): return s.m(sample, timestep, encoder_hidden_states)[0]


class VD(nn.Module):
    def __init__(s, m): super().__init__(); s.m = m
    def forward(s, latent_sample): return s.m.decode(latent_sample).sample


class VE(nn.Module):
    def __init__(s, m): super().__init__(); s.m = m
    def forward(s, sample): return s.m.encode(sample).latent_dist.parameters


def choose_arch(bench_json, wait_until):
    while not os.path.exists(bench_json) and now() < wait_until:
        time.sleep(2)
    if not os.path.exists(bench_json):
        log("CPU bench missing; using", UNET_CANDIDATES[1])
        return list(UNET_CANDIDATES[1]), None
    res = json.load(open(bench_json))
    for r in res:
        if r["est_image_s"] <= 1.2 and r["params"] <= UNET_MAX_PARAMS:
            return list(r["arch"]), res
    return list(res[-1]["arch"]), res


def alphas_cumprod():
    b = torch.linspace(0.00085 ** 0.5, 0.012 ** 0.5, 1000, dtype=torch.float64) ** 2
    return torch.cumprod(1 - b, 0).float()


def noisy_batch(lat_g, ids_g, empty_g, pool, ac, sf, B, drop=0.1):
    """A training batch drawn on the GPU with the default generator (so it can live in a CUDA graph):
    latents of random images of `pool`, one of their captions (`drop` of them empty, for CFG),
    timesteps, noise, and the noised latents."""
    idx = pool[torch.randint(0, len(pool), (B,), device="cuda")]
    z = lat_g[idx].float() * sf
    k = torch.randint(0, ids_g.shape[1], (B,), device="cuda")
    tokens = expand_ids(ids_g[idx, k], empty_g)
    tokens = torch.where((torch.rand(B, device="cuda") < drop)[:, None], empty_g[None], tokens)
    noise = torch.randn_like(z)
    t = torch.randint(0, 1000, (B,), device="cuda")
    a = ac[t][:, None, None, None]
    return a.sqrt() * z + (1 - a).sqrt() * noise, t, tokens, noise, z


def min_snr_loss(pred, noise, ac, t, gamma=5.0):
    snr = ac[t] / (1 - ac[t])
    return ((snr.clamp(max=gamma) / snr) * (pred - noise).pow(2).mean((1, 2, 3))).mean()


def graph_adamw(params, lr, **kw):
    """AdamW whose lr is a device tensor, so a captured step reads the value set before each replay."""
    return torch.optim.AdamW(params, lr=torch.tensor(lr, device="cuda"), capturable=True, foreach=True, **kw)


def train_loop(name, step_fn, opt, budget, prepare, step0=0, every=2000, checkpoint=None):
    """Runs step_fn (batch, forward, backward, opt.step; returns the loss tensor) for `budget` seconds.
    These models are tiny, so an eager step is launch-bound (measured ~150 ms on an H100 at batch 256
    and at 768 alike): the step is captured once as a CUDA graph and replayed (eager if capture fails).
    prepare(i, frac) fills the lr/EMA tensors before step i (frac = share of the budget used)."""
    t0, i, graph, loss, last_ck = now(), 0, None, None, now()
    frac = lambda: min(1.0, (now() - t0) / budget)
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):  # warm-up (cudnn autotuning, optimiser state) as real steps
        for _ in range(3):
            prepare(i, frac()); opt.zero_grad(set_to_none=True); loss = step_fn(); i += 1
    torch.cuda.current_stream().wait_stream(side)
    try:
        opt.zero_grad(set_to_none=True)
        g = torch.cuda.CUDAGraph()
        with torch.cuda.graph(g):
            static_loss = step_fn()
        graph = g  # loss stays the warm-up's until the first replay fills static_loss
        log(f"{name}: step captured as a CUDA graph")
    except Exception as e:  # noqa: BLE001 - any capture failure falls back to eager steps
        torch.cuda.synchronize()
        log(f"{name}: CUDA graph capture failed ({e!r}); eager steps")
    while now() - t0 < budget:
        prepare(i, frac())
        if graph is not None:
            graph.replay(); loss = static_loss
        else:
            opt.zero_grad(set_to_none=True); loss = step_fn()
        i += 1
        if i % 50 == 0:
            torch.cuda.synchronize()  # keeps the CPU from queueing replays past the budget
        if i % every == 0:
            log(f"{name} step {step0 + i} loss {loss.item():.4f} lr {opt.param_groups[0]['lr'].item():.2e} "
                f"({(now() - t0) / i * 1000:.1f} ms/step)")
        if checkpoint and now() - last_ck > 240:
            checkpoint(step0 + i, now() - t0); last_ck = now()
    torch.cuda.synchronize()
    return i, loss.item(), now() - t0


def stage_unet(st, tok, lat, ids, empty, meta, budget, B, peak_lr, decay):
    """Text encoder + UNet from scratch, jointly: epsilon, min-SNR-5 weights, 10% empty captions, EMA.
    Learning rate: warm-up, then constant; the last call passes decay to anneal it linearly to 5%
    over its budget (so the number of calls need not be known in advance)."""
    step, tt = st.meta.get("unet_steps", 0), st.meta.get("unet_seconds", 0.0)
    seed_all(3 + step)
    arch = st.meta["unet_arch"]
    te, unet = make_te(tok).cuda(), make_unet(arch).cuda()
    params = list(unet.parameters()) + list(te.parameters())
    opt = graph_adamw(params, peak_lr, weight_decay=0.01, betas=(0.9, 0.99))
    full, ema, warm = st.p("unet.full.pt"), None, 500
    if os.path.exists(full):
        ck = torch.load(full, map_location="cuda", weights_only=False)
        unet.load_state_dict(ck["unet"]); te.load_state_dict(ck["te"]); opt.load_state_dict(ck["opt"])
        ema, warm = ck["ema"], 20
        log(f"resumed full checkpoint at step {step}")
    elif os.path.exists(st.p("unet_ema.safetensors")):
        unet.load_state_dict(load_sd(st.p("unet_ema.safetensors"))); te.load_state_dict(load_sd(st.p("te_ema.safetensors")))
        warm = 200
        log(f"resumed from compact EMA at step {step} (fresh optimiser)")
    if ema is None:
        ema = [p.detach().clone() for p in params]
    log(f"UNet {arch} params {nparams(unet)/1e6:.2f}M, TE {nparams(te)/1e6:.2f}M, batch {B}, lr {peak_lr:g}"
        f"{' decaying' if decay else ''}, budget {budget:.0f}s")
    ac = alphas_cumprod().cuda()
    pool = torch.from_numpy(np.nonzero(~meta["held"] & (meta["style"] < 3))[0]).cuda()
    sf = st.meta["scaling_factor"]
    lat_g, ids_g, empty_g = lat.cuda(), torch.from_numpy(ids).cuda(), torch.from_numpy(empty).long().cuda()
    pd, ema_w = [p.detach() for p in params], torch.zeros((), device="cuda")
    unet.train(); te.train()

    def step_fn():
        zt, t, tokens, noise, _ = noisy_batch(lat_g, ids_g, empty_g, pool, ac, sf, B)
        with torch.autocast("cuda", torch.bfloat16, cache_enabled=False):
            pred = unet(zt, t, te(tokens)[0]).sample.float()
        loss = min_snr_loss(pred, noise, ac, t)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0, foreach=True)
        opt.step()
        with torch.no_grad():  # ema += (1 - decay) * (p - ema)
            d = torch._foreach_sub(pd, ema)
            torch._foreach_mul_(d, ema_w)
            torch._foreach_add_(ema, d)
        return loss

    def prepare(i, frac):
        s = step + i
        opt.param_groups[0]["lr"].fill_(peak_lr * min(1, (i + 1) / warm) * ((1 - 0.95 * frac) if decay else 1))
        ema_w.fill_(1 - min(0.9995, (1 + s) / (10 + s)))

    n, loss, secs = train_loop("unet", step_fn, opt, budget, prepare, step,
                               checkpoint=lambda s, e: _save_unet(st, unet, te, opt, ema, params, s, tt + e))
    _save_unet(st, unet, te, opt, ema, params, step + n, tt + secs)
    st.save(None, unet_calls=st.meta.get("unet_calls", []) + [
        {"steps": n, "seconds": round(secs, 1), "batch": B, "lr": peak_lr, "decay": decay, "last_loss": round(loss, 4)}])
    log(f"unet done: {n} steps this call ({secs / n * 1000:.1f} ms/step), {step + n} in all, last loss {loss:.4f}")


def _save_unet(st, unet, te, opt, ema, params, step, secs):
    torch.save({"unet": unet.state_dict(), "te": te.state_dict(), "opt": opt.state_dict(), "ema": ema}, st.p("unet.full.pt"))
    names = [("unet", n) for n, _ in unet.named_parameters()] + [("te", n) for n, _ in te.named_parameters()]
    esd = {"unet": dict(unet.state_dict()), "te": dict(te.state_dict())}  # buffers from the live model
    for (m, n), e in zip(names, ema):
        assert n in esd[m], n
        esd[m][n] = e
    save_sd(esd["unet"], st.p("unet_ema.safetensors")); save_sd(esd["te"], st.p("te_ema.safetensors"))
    st.save(None, unet_steps=step, unet_seconds=round(secs, 1))


def load_base(st, tok):
    te, unet = make_te(tok), make_unet(st.meta["unet_arch"])
    te.load_state_dict(load_sd(st.p("te_ema.safetensors")))
    unet.load_state_dict(load_sd(st.p("unet_ema.safetensors")))
    return fp16_round(te.cuda().eval()), fp16_round(unet.cuda().eval())


def lora_copy(unet, targets, rank):
    u = copy.deepcopy(unet).train()
    for p in u.parameters():
        p.requires_grad_(False)
    layers = inject_lora(u, targets, rank)
    return u, layers, [p for l in layers.values() for p in (l.lora_A.weight, l.lora_B.weight)]


def stage_style_lora(st, name, unet, te, lat, ids, empty, meta, style_idx, rank, budget, B=512):
    seed_all(10 + style_idx)
    u, layers, lp = lora_copy(unet, STYLE_LORA_TARGETS, rank)
    opt = graph_adamw(lp, 1e-3, weight_decay=0.0)
    ac = alphas_cumprod().cuda()
    pool = torch.from_numpy(np.nonzero(~meta["held"] & (meta["style"] == style_idx))[0]).cuda()
    sf = st.meta["scaling_factor"]
    lat_g, ids_g, empty_g = lat.cuda(), torch.from_numpy(ids).cuda(), torch.from_numpy(empty).long().cuda()

    def step_fn():
        zt, t, tokens, noise, _ = noisy_batch(lat_g, ids_g, empty_g, pool, ac, sf, B)
        with torch.no_grad(), torch.autocast("cuda", torch.bfloat16, cache_enabled=False):
            ehs = te(tokens)[0]
        with torch.autocast("cuda", torch.bfloat16, cache_enabled=False):
            pred = u(zt, t, ehs).sample.float()
        loss = min_snr_loss(pred, noise, ac, t)
        loss.backward()
        opt.step()
        return loss

    def prepare(i, frac):
        opt.param_groups[0]["lr"].fill_(1e-3 * min(1, (i + 1) / 100) * (0.2 + 0.8 * 0.5 * (1 + math.cos(math.pi * frac))))
    step, loss, secs = train_loop(name, step_fn, opt, budget, prepare, every=1000)
    sd = lora_state(layers)
    meta_s = {"format": "diffusers-peft", "rank": str(rank), "alpha": str(rank), "scale": "1.0",
              "target_modules": ",".join(STYLE_LORA_TARGETS), "trigger": STYLE_WORDS[STYLES[style_idx]]}
    save_sd(sd, st.p(f"{name}.safetensors"), torch.float16, meta_s)
    st.save(name, **{f"{name}_steps": step, f"{name}_seconds": round(secs, 1), f"{name}_rank": rank, f"{name}_batch": B})
    log(f"{name} done {step} steps, loss {loss:.4f}, {len(sd)} tensors, {os.path.getsize(st.p(name + '.safetensors'))/1e6:.2f} MB")


def stage_lcm(st, unet, te, lat, ids, empty, meta, budget, max_bytes=3.0e6, B=512):
    """LCM-LoRA distillation as in diffusers' train_lcm_distill_lora_sd_wds.py (DDIM solver, 50 skip
    steps, CFG teacher w in [2, 8], Huber loss, target from the student itself under no_grad)."""
    seed_all(20)
    rank = next(r for r in (64, 48, 32, 24, 16, 8) if 2 * lora_numel(unet, LCM_TARGETS, r) <= max_bytes)
    teacher = unet
    u, layers, lp = lora_copy(unet, LCM_TARGETS, rank)
    opt = graph_adamw(lp, 5e-4, weight_decay=0.0)
    ac = alphas_cumprod().cuda()
    n_ddim, topk = 50, 20
    ddim_t = (torch.arange(1, n_ddim + 1, device="cuda") * topk - 1).long()
    ac_prev = torch.cat([ac[:1], ac[ddim_t[:-1]]])

    def bound(t):  # LCMScheduler's c_skip, c_out (sigma_data 0.5, timestep_scaling 10)
        s = t.float() * 10.0
        return (0.25 / (s ** 2 + 0.25))[:, None, None, None], (s / (s ** 2 + 0.25) ** 0.5)[:, None, None, None]

    def x0(eps, x, t):
        a = ac[t][:, None, None, None]
        return (x - (1 - a).sqrt() * eps) / a.sqrt()
    pool = torch.from_numpy(np.nonzero(~meta["held"] & (meta["style"] < 3))[0]).cuda()
    sf = st.meta["scaling_factor"]
    lat_g, ids_g, empty_g = lat.cuda(), torch.from_numpy(ids).cuda(), torch.from_numpy(empty).long().cuda()
    with torch.no_grad(), torch.autocast("cuda", torch.bfloat16):
        unc = te(empty_g[None])[0].expand(B, -1, -1).contiguous()

    def step_fn():
        _, _, tokens, noise, z = noisy_batch(lat_g, ids_g, empty_g, pool, ac, sf, B, drop=0.0)
        with torch.no_grad(), torch.autocast("cuda", torch.bfloat16, cache_enabled=False):
            ehs = te(tokens)[0]
        i = torch.randint(0, n_ddim, (B,), device="cuda")
        ts = ddim_t[i]
        tprev = (ts - topk).clamp(min=0)
        a = ac[ts][:, None, None, None]
        x = a.sqrt() * z + (1 - a).sqrt() * noise
        cs, co = bound(ts)
        w = (torch.rand(B, device="cuda") * 6 + 2)[:, None, None, None]
        with torch.autocast("cuda", torch.bfloat16, cache_enabled=False):
            eps_s = u(x, ts, ehs).sample.float()
        pred = cs * x + co * x0(eps_s, x, ts)
        with torch.no_grad():
            with torch.autocast("cuda", torch.bfloat16, cache_enabled=False):
                ec, eu = teacher(torch.cat([x, x]), torch.cat([ts, ts]), torch.cat([ehs, unc])).sample.float().chunk(2)
            p0c, p0u = x0(ec, x, ts), x0(eu, x, ts)
            p0, pe = p0c + w * (p0c - p0u), ec + w * (ec - eu)
            ap = ac_prev[i][:, None, None, None]
            xp = ap.sqrt() * p0 + (1 - ap).sqrt() * pe
            with torch.autocast("cuda", torch.bfloat16, cache_enabled=False):
                et = u(xp, tprev, ehs).sample.float()
            cs2, co2 = bound(tprev)
            target = cs2 * xp + co2 * x0(et, xp, tprev)
        loss = (torch.sqrt((pred - target) ** 2 + 0.001 ** 2) - 0.001).mean()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(lp, 1.0, foreach=True)
        opt.step()
        return loss

    def prepare(i, frac):
        opt.param_groups[0]["lr"].fill_(5e-4 * min(1, (i + 1) / 100))
    step, loss, secs = train_loop("lcm", step_fn, opt, budget, prepare, every=1000)
    sd = lora_state(layers)
    save_sd(sd, st.p("lcm_lora.safetensors"), torch.float16,
            {"format": "diffusers-peft", "rank": str(rank), "alpha": str(rank), "scale": "1.0",
             "target_modules": ",".join(LCM_TARGETS), "scheduler": "LCMScheduler, guidance_scale 1.0, 4 steps"})
    st.save("lcm", lcm_steps=step, lcm_seconds=round(secs, 1), lcm_rank=rank, lcm_batch=B)
    log(f"lcm done {step} steps rank {rank}, loss {loss:.5f}, {os.path.getsize(st.p('lcm_lora.safetensors'))/1e6:.2f} MB")


def make_pipe(vae, te, tok, unet, sched="pndm"):
    from diffusers import StableDiffusionPipeline, PNDMScheduler, LCMScheduler
    s = (LCMScheduler if sched == "lcm" else PNDMScheduler).from_config(SD15_SCHEDULER)
    p = StableDiffusionPipeline(vae=vae, text_encoder=te, tokenizer=tok, unet=unet, scheduler=s, safety_checker=None,
                                feature_extractor=None, requires_safety_checker=False)
    p.set_progress_bar_config(disable=True)
    return p


@torch.no_grad()
def generate(pipe, prompts, steps, guidance, seed, chunk=256):
    out = []
    for i in range(0, len(prompts), chunk):
        g = torch.Generator("cuda").manual_seed(seed + i)
        im = pipe(prompts[i:i + chunk], num_inference_steps=steps, guidance_scale=guidance, height=SIZE, width=SIZE,
                  generator=g, output_type="pt").images
        out.append(im.float().clamp(0, 1))
    return torch.cat(out)


def eval_prompts(pipe, clf, concepts, cids, style_of, steps, guidance, seed, want_style=None):
    """Generates one image per concept ("<label>, <style> style") and classifies it."""
    prompts = [f"{concepts[c]['label']}, {STYLE_WORDS[style_of(j)]}" for j, c in enumerate(cids)]
    t = time.time()
    x = generate(pipe, prompts, steps, guidance, seed)
    yc = torch.tensor(cids).cuda()
    ys = torch.tensor([STYLES.index(style_of(j)) for j in range(len(cids))]).cuda()
    r = classify(clf, x, yc, ys, None if want_style is None else torch.full_like(ys, STYLES.index(want_style)))
    r["gen_seconds"] = round(time.time() - t, 1)
    return r


def cycle_base(j):
    return BASE_STYLES[j % 3]


def probe(st, vae, tok, te, unet, clf, concepts, n):
    """Progress check between UNet calls: base model on the first n training concepts (as stage_eval)."""
    train_c = [i for i, c in enumerate(concepts) if not c["heldout"]][:n]
    r = eval_prompts(make_pipe(vae, te, tok, unet), clf, concepts, train_c, cycle_base, 25, 7.5, 100)
    r["unet_steps"] = st.meta.get("unet_steps")
    st.save(None, probes=st.meta.get("probes", []) + [r])
    log("probe", r)


def stage_eval(st, vae, tok, te, unet, clf, concepts, limit=None):
    res = {"method": "generated image -> classifier trained on all real renders (4 sets + pixel variants, augmented,"
                     " half VAE reconstructions); top-k over all concepts; one image per concept, seed fixed"}
    train_c = [i for i, c in enumerate(concepts) if not c["heldout"]]
    held_c = [i for i, c in enumerate(concepts) if c["heldout"]]
    if limit:
        train_c, held_c = train_c[:limit], held_c[:max(8, limit // 4)]
    base = make_pipe(vae, te, tok, unet)
    run = lambda pipe, cids, style_of, steps, guidance, seed, want_style=None: eval_prompts(  # noqa: E731
        pipe, clf, concepts, cids, style_of, steps, guidance, seed, want_style)
    res["base_train_25steps_cfg7.5"] = run(base, train_c, cycle_base, 25, 7.5, 100)
    log("eval base train", res["base_train_25steps_cfg7.5"])
    res["base_heldout_25steps_cfg7.5"] = run(base, held_c, cycle_base, 25, 7.5, 200)
    log("eval base held-out", res["base_heldout_25steps_cfg7.5"])
    sub = train_c[:300]
    for name, style in (("lora_openmoji", "openmoji"), ("lora_pixel", "pixel")):
        if not os.path.exists(st.p(f"{name}.safetensors")):
            continue
        lp = make_pipe(vae, te, tok, fuse_lora(unet, load_sd(st.p(f"{name}.safetensors"))))
        res[f"{name}_25steps"] = run(lp, sub, lambda j: style, 25, 7.5, 300, want_style=style)
        res[f"{name}_base_same_prompts"] = run(base, sub, lambda j: style, 25, 7.5, 300, want_style=style)
        log("eval", name, res[f"{name}_25steps"], "base:", res[f"{name}_base_same_prompts"])
        del lp
    if os.path.exists(st.p("lcm_lora.safetensors")):
        lcm = make_pipe(vae, te, tok, fuse_lora(unet, load_sd(st.p("lcm_lora.safetensors"))), "lcm")
        res["lcm_train_4steps_cfg1"] = run(lcm, train_c, cycle_base, 4, 1.0, 100)
        res["lcm_heldout_4steps_cfg1"] = run(lcm, held_c, cycle_base, 4, 1.0, 200)
        res["base_train_4steps_cfg7.5_no_lcm"] = run(base, train_c, cycle_base, 4, 7.5, 100)
        log("eval lcm", res["lcm_train_4steps_cfg1"], "base@4:", res["base_train_4steps_cfg7.5_no_lcm"])
    json.dump(res, open(st.p("eval.json"), "w"), indent=1)
    st.save("eval")
    return res


def stage_sweep(st, vae, tok, te, unet, clf, concepts):
    """Guidance (and LoRA weight) sweep on the same prompts and seeds as stage_eval, so the README can
    state the setting each part is best used at next to the SD default (PNDM 25 steps, CFG 7.5)."""
    train_c = [i for i, c in enumerate(concepts) if not c["heldout"]]
    held_c = [i for i, c in enumerate(concepts) if c["heldout"]]
    res, path = {}, st.p("sweep.json")

    def put(k, r):
        res[k] = r; log("sweep", k, r); json.dump(res, open(path, "w"), indent=1)
    base = make_pipe(vae, te, tok, unet)
    for g in (2.0, 3.0, 4.0, 5.0):
        put(f"base_train_25steps_cfg{g}", eval_prompts(base, clf, concepts, train_c, cycle_base, 25, g, 100))
        put(f"base_heldout_25steps_cfg{g}", eval_prompts(base, clf, concepts, held_c, cycle_base, 25, g, 200))
    sub = train_c[:300]
    for name, style in (("lora_openmoji", "openmoji"), ("lora_pixel", "pixel")):
        for g in (3.0, 5.0):
            put(f"{name}_base_same_prompts_cfg{g}", eval_prompts(base, clf, concepts, sub, lambda j: style, 25, g, 300,
                                                                  want_style=style))
        for w in (1.0, 1.25, 1.5):
            lp = make_pipe(vae, te, tok, fuse_lora(unet, load_sd(st.p(f"{name}.safetensors")), w))
            for g in (3.0, 5.0, 7.5):
                put(f"{name}_w{w}_cfg{g}", eval_prompts(lp, clf, concepts, sub, lambda j: style, 25, g, 300, want_style=style))
    st.save("sweep")


# ------------------------------------------------------------------ export + CPU timing
def export_onnx(st, vae, tok, te, unet, out_dir):
    import diffusers, onnx
    from onnx import numpy_helper, helper, TensorProto
    te, unet, vae = te.float().cpu().eval(), unet.float().cpu().eval(), vae.float().cpu().eval()
    vae.register_to_config(scaling_factor=st.meta["scaling_factor"])
    os.makedirs(out_dir, exist_ok=True)

    def export(module, args, path, inputs, outputs, axes):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        torch.onnx.export(module, args, path, input_names=inputs, output_names=outputs, dynamic_axes=axes,
                          opset_version=17, do_constant_folding=True, dynamo=False)
    cd = te.config.hidden_size
    with torch.no_grad():
        export(TE(te), (torch.zeros(1, 77, dtype=torch.int32),), f"{out_dir}/text_encoder/model.onnx",
               ["input_ids"], ["last_hidden_state"], {"input_ids": {0: "batch"}, "last_hidden_state": {0: "batch"}})
        export(UN(unet), (torch.randn(2, 4, 16, 16), torch.tensor([1.0]), torch.randn(2, 77, cd)),
               f"{out_dir}/unet/model.onnx", ["sample", "timestep", "encoder_hidden_states"], ["out_sample"],
               {"sample": {0: "batch", 2: "height", 3: "width"}, "timestep": {0: "steps"},
                "encoder_hidden_states": {0: "batch", 1: "sequence"}, "out_sample": {0: "batch", 2: "height", 3: "width"}})
        export(VD(vae), (torch.randn(1, 4, 16, 16),), f"{out_dir}/vae_decoder/model.onnx", ["latent_sample"], ["sample"],
               {"latent_sample": {0: "batch", 2: "height", 3: "width"}, "sample": {0: "batch", 2: "height", 3: "width"}})
        export(VE(vae), (torch.randn(1, 3, SIZE, SIZE),), f"{out_dir}/vae_encoder/model.onnx", ["sample"], ["latent_parameters"],
               {"sample": {0: "batch", 2: "height", 3: "width"}, "latent_parameters": {0: "batch", 2: "height", 3: "width"}})
    te.config.to_json_file(f"{out_dir}/text_encoder/config.json")
    json.dump(dict(unet.config), open(f"{out_dir}/unet/config.json", "w"), indent=2, default=list)
    vcfg = dict(vae.config)  # scaling_factor is set, not default (diffusers would reset a listed key on load)
    vcfg["_use_default_values"] = [k for k in vcfg.get("_use_default_values", []) if k != "scaling_factor"]
    for part in ("vae_decoder", "vae_encoder"):
        json.dump(vcfg, open(f"{out_dir}/{part}/config.json", "w"), indent=2, default=list)
    os.makedirs(f"{out_dir}/scheduler", exist_ok=True)
    json.dump(SD15_SCHEDULER, open(f"{out_dir}/scheduler/scheduler_config.json", "w"), indent=2)
    json.dump({"_class_name": "OnnxStableDiffusionPipeline", "_diffusers_version": diffusers.__version__,
               "text_encoder": ["diffusers", "OnnxRuntimeModel"], "unet": ["diffusers", "OnnxRuntimeModel"],
               "vae_decoder": ["diffusers", "OnnxRuntimeModel"], "vae_encoder": ["diffusers", "OnnxRuntimeModel"],
               "tokenizer": ["transformers", "CLIPTokenizer"], "scheduler": ["diffusers", "PNDMScheduler"],
               "safety_checker": [None, None], "feature_extractor": [None, None], "requires_safety_checker": False},
              open(f"{out_dir}/model_index.json", "w"), indent=2)
    # fp16 storage, fp32 compute: big fp32 initializers become fp16 '<name>_fp16' + Cast back to '<name>'
    info = {}
    for part in ("text_encoder", "unet", "vae_decoder", "vae_encoder"):
        p = f"{out_dir}/{part}/model.onnx"
        m = onnx.load(p)
        casts, keep, n16 = [], [], 0
        for init in m.graph.initializer:
            if init.data_type == TensorProto.FLOAT and int(np.prod(init.dims)) >= 1024:
                a = numpy_helper.to_array(init).astype(np.float16)
                keep.append(numpy_helper.from_array(a, init.name + "_fp16"))
                casts.append(helper.make_node("Cast", [init.name + "_fp16"], [init.name], name=init.name + "_cast",
                                              to=TensorProto.FLOAT))
                n16 += 1
            else:
                keep.append(init)
        del m.graph.initializer[:]
        m.graph.initializer.extend(keep)
        nodes = casts + list(m.graph.node)
        del m.graph.node[:]
        m.graph.node.extend(nodes)
        onnx.checker.check_model(m)
        onnx.save(m, p)
        info[part] = {"bytes": os.path.getsize(p), "fp16_initializers": n16, "nodes": len(m.graph.node)}
    # parity: ONNX (fp16-stored weights) vs torch (fp16-rounded weights)
    import onnxruntime as ort
    s = ort.InferenceSession(f"{out_dir}/unet/model.onnx", providers=["CPUExecutionProvider"])
    x, ehs = torch.randn(2, 4, 16, 16), torch.randn(2, 77, cd)
    with torch.no_grad():
        ref = unet(x, torch.tensor([500.0]), ehs)[0].numpy()
    got = s.run(None, {"sample": x.numpy(), "timestep": np.array([500.0], np.float32), "encoder_hidden_states": ehs.numpy()})[0]
    info["unet_onnx_vs_torch_max_abs"] = float(np.abs(ref - got).max())
    log("export", info)
    return info


def cpu_timing(model_dir, tok, runs=20, lcm_lora=None):
    """One 128x128 image: text encoder (CFG batch 2), 25 PNDM steps (26 UNet calls, batch 2), VAE decode;
    onnxruntime CPU, intra_op 2 threads, inter_op 1."""
    import onnxruntime as ort
    from diffusers import PNDMScheduler
    so = ort.SessionOptions(); so.intra_op_num_threads = 2; so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    S = {k: ort.InferenceSession(f"{model_dir}/{k}/model.onnx", so, providers=["CPUExecutionProvider"])
         for k in ("text_encoder", "unet", "vae_decoder")}
    sf = json.load(open(f"{model_dir}/vae_decoder/config.json"))["scaling_factor"]
    ids = np.array(tok(["", "grinning face, twemoji style"], padding="max_length", max_length=77).input_ids, np.int32)

    def image(steps=25, seed=0):
        sch = PNDMScheduler.from_config(SD15_SCHEDULER)
        sch.set_timesteps(steps)
        ehs = S["text_encoder"].run(None, {"input_ids": ids})[0]
        lat = torch.from_numpy(np.random.RandomState(seed).randn(1, 4, 16, 16).astype(np.float32))
        n = 0
        for t in sch.timesteps:
            e = S["unet"].run(None, {"sample": np.concatenate([lat.numpy()] * 2), "timestep": np.array([float(t)], np.float32),
                                     "encoder_hidden_states": ehs})[0]
            n += 1
            e = torch.from_numpy(e)
            e = e[:1] + 7.5 * (e[1:] - e[:1])
            lat = sch.step(e, t, lat).prev_sample
        img = S["vae_decoder"].run(None, {"latent_sample": (lat / sf).numpy()})[0]
        return img, n
    for _ in range(2):
        img, n = image()
    ts = []
    for i in range(runs):
        t = time.perf_counter(); image(seed=i); ts.append(time.perf_counter() - t)
    # per-part medians
    parts = {}
    for k, feeds in (("unet_batch2", {"sample": np.zeros((2, 4, 16, 16), np.float32), "timestep": np.array([500.0], np.float32),
                                      "encoder_hidden_states": np.zeros((2, 77, S["text_encoder"].get_outputs()[0].shape[2] or 128), np.float32)}),
                     ("vae_decoder", {"latent_sample": np.zeros((1, 4, 16, 16), np.float32)}),
                     ("text_encoder", {"input_ids": ids})):
        sess = S["unet" if k == "unet_batch2" else k]
        tt = []
        for _ in range(20):
            t = time.perf_counter(); sess.run(None, feeds); tt.append(time.perf_counter() - t)
        parts[k] = round(float(np.median(tt)) * 1000, 2)
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    r = {"cpu": cpu, "ort": ort.__version__, "threads": "intra_op 2, inter_op 1", "runs": runs, "unet_calls": n,
         "median_s": round(float(np.median(ts)), 3), "min_s": round(float(np.min(ts)), 3), "max_s": round(float(np.max(ts)), 3),
         "part_median_ms": parts, "image_mean": float(img.mean()), "image_std": float(img.std())}
    log("cpu timing", r)
    return r, img


@torch.no_grad()
def contact_sheet(st, vae, tok, te, unet, concepts, path):
    from PIL import Image, ImageDraw
    want = ["grinning face", "red apple", "cat face", "pizza", "rocket", "house", "sun", "red heart", "dog face",
            "birthday cake", "soccer ball", "guitar", "hot beverage", "tulip", "snowman", "automobile"]
    by_label = {c["label"]: i for i, c in enumerate(concepts)}
    chosen = [by_label[w] for w in want if w in by_label]
    held = [i for i, c in enumerate(concepts) if c["heldout"]]
    chosen = chosen[:12] + held[:16 - min(12, len(chosen))]
    labels = [concepts[i]["label"] + (" (held out)" if concepts[i]["heldout"] else "") for i in chosen]
    base = make_pipe(vae, te, tok, unet)
    cols = [("base 25 steps", base, [f"{concepts[i]['label']}, {STYLE_WORDS[BASE_STYLES[j % 3]]}" for j, i in enumerate(chosen)], 25, 7.5)]
    for name, style, title in (("lora_openmoji", "openmoji", "LoRA 1 openmoji"), ("lora_pixel", "pixel", "LoRA 2 pixel art")):
        if os.path.exists(st.p(f"{name}.safetensors")):
            cols.append((title, make_pipe(vae, te, tok, fuse_lora(unet, load_sd(st.p(f"{name}.safetensors")))),
                         [f"{concepts[i]['label']}, {STYLE_WORDS[style]}" for i in chosen], 25, 7.5))
    if os.path.exists(st.p("lcm_lora.safetensors")):
        cols.append(("LCM-LoRA 4 steps", make_pipe(vae, te, tok, fuse_lora(unet, load_sd(st.p("lcm_lora.safetensors"))), "lcm"),
                     cols[0][2], 4, 1.0))
    imgs = [generate(p, pr, s, g, 7) for _, p, pr, s, g in cols]
    W, L, H = SIZE, 190, 18
    sheet = Image.new("RGB", (L + W * len(cols), H + W * len(chosen)), "white")
    d = ImageDraw.Draw(sheet)
    for c, (title, *_r) in enumerate(cols):
        d.text((L + c * W + 4, 3), title, fill="black")
    for r, lab in enumerate(labels):
        d.text((4, H + r * W + W // 2 - 6), lab[:30], fill="black")
        for c in range(len(cols)):
            a = (imgs[c][r].permute(1, 2, 0).cpu().numpy() * 255).round().astype(np.uint8)
            sheet.paste(Image.fromarray(a), (L + c * W, H + r * W))
    sheet.save(path, optimize=True)
    for f in (1.0, 0.85, 0.7, 0.55):  # keep it under 500 KB
        if os.path.getsize(path) <= 490_000:
            break
        s2 = sheet.resize((round(sheet.width * f), round(sheet.height * f)), Image.LANCZOS) if f < 1 else sheet
        s2.quantize(256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
    log(f"contact sheet {os.path.getsize(path)/1e3:.0f} KB, {len(chosen)} prompts x {len(cols)}")


# ------------------------------------------------------------------ driver
def main():
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
    a = ap.parse_args()
    if a.bench:
        return bench_unet_cpu(None, a.bench)
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
    if os.path.exists(st.p("tokens.npz")):
        z = np.load(st.p("tokens.npz")); ids, empty = z["ids"], z["empty"]
    else:
        ids, empty = tokenize_all(tok, concepts, meta)
        np.savez_compressed(st.p("tokens.npz"), ids=ids, empty=empty)
        log(f"tokenized {ids.shape}")
    imgs_gpu = torch.from_numpy(imgs).permute(0, 3, 1, 2).contiguous().cuda() if imgs is not None else None
    vae = clf = recs = None
    if not st.done("vae"):
        vae = stage_vae(st, imgs_gpu, B["vae"], a)
    elif os.path.exists(st.p("vae.safetensors")):
        vae = make_vae(); vae.load_state_dict(load_sd(st.p("vae.safetensors"))); vae = vae.cuda().eval()
    if vae is not None:
        vae.register_to_config(scaling_factor=st.meta.get("scaling_factor", 1.0))
    if not st.done("latents"):
        lat, recs = stage_latents(st, vae, imgs_gpu, meta)
        vae.register_to_config(scaling_factor=st.meta["scaling_factor"])
    lat = load_latents(st)
    if not st.done("classifier"):
        clf = stage_classifier(st, imgs_gpu, recs, meta, len(concepts), B["clf"])
    elif os.path.exists(st.p("classifier.safetensors")):
        clf = Classifier(len(concepts)); clf.load_state_dict(load_sd(st.p("classifier.safetensors"))); clf = clf.cuda().eval()
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
    # time kept after the UNet for the later stages of this call (estimates, s)
    evalkit = vae is not None and clf is not None
    after = (((2 * B["lora"] + B["lcm"] + 20) if lat is not None else 0) + (150 if evalkit else 0)) if (a.finish or sm) \
        else (30 if a.probe and evalkit else 0)
    unet_budget = 12 if sm else a.deadline - now() - after - 25
    if unet_budget > 10 and not st.done("unet") and lat is not None:
        stage_unet(st, tok, lat, ids, empty, meta, unet_budget, a.unet_batch, a.unet_lr, a.unet_decay or sm)
    if a.probe and evalkit and not sm:
        te, unet = load_base(st, tok)
        probe(st, vae, tok, te, unet, clf, concepts, a.probe)
    if a.finish or sm:
        st.save("unet")
        te, unet = load_base(st, tok)
        have_pixel = lat is not None and lat.shape[0] == len(meta["style"])
        for stage, ready, fn in (
                ("lora_openmoji", lambda: lat is not None,
                 lambda: stage_style_lora(st, "lora_openmoji", unet, te, lat, ids, empty, meta, 3, 16, B["lora"])),
                ("lora_pixel", lambda: have_pixel,
                 lambda: stage_style_lora(st, "lora_pixel", unet, te, lat, ids, empty, meta, 4, 16, B["lora"])),
                ("lcm", lambda: lat is not None, lambda: stage_lcm(st, unet, te, lat, ids, empty, meta, B["lcm"])),
                ("eval", lambda: evalkit,
                 lambda: stage_eval(st, vae, tok, te, unet, clf, concepts, 24 if sm else None)),
                ("sheet", lambda: vae is not None, lambda: contact_sheet(st, vae, tok, te, unet, concepts, st.p("contact-sheet.png"))),
                ("export", lambda: vae is not None,
                 lambda: st.save("export", export_info=export_onnx(st, copy.deepcopy(vae), tok, copy.deepcopy(te),
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
    if a.sweep and evalkit and not st.done("sweep"):
        te, unet = load_base(st, tok)
        stage_sweep(st, vae, tok, te, unet, clf, concepts)
    if bench is not None:
        bench.wait(timeout=5) if bench.poll() is None else None
    if a.ret:
        pack(st, a.ret)
    log("done")


CARRIED_APART = ("latents_main.npy", "latents_pixel.npy", "vae.safetensors", "classifier.safetensors")


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


if __name__ == "__main__":
    main()
