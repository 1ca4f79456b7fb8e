"""Emoji ControlNet (canny): a ControlNet for the embedded emoji model, conditioned on canny edges of the
emoji images, exported to ONNX in the engine's ControlNet layout. Runs on the GPU machine.

    python3 training/emoji_controlnet.py --out $OUT/controlnet-canny [--seconds 300] [--smoke]

The device call (one H200, ~7 min: smoke ~1 min, then 300 s of training + ~1 min data, export, evaluation):
run with carry [".train-carry/data", ".train-carry/diffusers-src.tar.xz"], timeout_s 600, command
    mkdir -p /tmp/site && { [ -d /tmp/site/diffusers ] || tar xJf .train-carry/diffusers-src.tar.xz -C /tmp/site; }
    export PYTHONPATH=/tmp/site PYTHONUNBUFFERED=1
    python3 training/emoji_controlnet.py --smoke --out /tmp/cn-smoke > $OUT/smoke.log 2>&1
    python3 training/emoji_controlnet.py --seconds 300 --out $OUT/controlnet-canny > $OUT/run.log 2>&1
then here: cp -r <files_at>/controlnet-canny/. assets/models/emoji-sd-controlnet-canny/  (model.onnx, config.json, report.json,
README.md, samples.png, canny-check/).

Starts from the shipped model folder (assets/models/emoji-sd: its ONNX graphs are read back into torch,
training/emoji_train/onnx_weights.py) and the dataset built by training/build-dataset.mjs
(.train-carry/data). Frozen: text encoder (run once by onnxruntime over every caption), VAE encoder
(latents), UNet. Trained: diffusers' ControlNetModel.from_unet(unet) (its down blocks and mid block start
as the UNet's), epsilon loss with min-SNR-5 weights, 10% empty captions, through the frozen UNet with the
residuals added, as diffusers' train_controlnet.py. Condition: canny edges (emoji_train/canny.py, the same
steps as the engine's app/canny.ts; low 100, high 200) of the image, white on black, RGB in [0, 1].
Writes <out>/model.onnx (int8 weights per output channel, fp32 compute: 2.6 MB where fp16 took 5.0) + config.json, report.json (figures), README.md,
canny-check/ (an image and the edges computed here, for the TypeScript canny's test).
"""
import argparse, json, os, sys, time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from emoji_train.common import ROOT, SIZE, log, now, seed_all
from emoji_train.batches import alphas_cumprod
from emoji_train.canny import canny, grey
from emoji_train.data import load_dataset, tokenize_all, train_rows
from emoji_train.export import int8_storage
from emoji_train.loop import graph_adamw, train_loop
from emoji_train.models import int8_round, make_tokenizer, nparams
from emoji_train.onnx_weights import load_onnx_weights
from sd_export import ControlNetOnnx, UNetOnnx, VaeEncoderOnnx, check, export_controlnet

MODEL = os.path.join(ROOT, "assets/models/emoji-sd")
LOW, HIGH = 100.0, 200.0
COND_CHANNELS = (16, 32, 64, 128)  # conditioning embedding: 128 px -> 16 latent (f = 8), smaller than SD's (16, 32, 96, 256)


def parse_args():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True, help="folder to write (then copy to assets/models/emoji-sd-controlnet-canny)")
    ap.add_argument("--data", default=os.path.join(ROOT, ".train-carry/data"))
    ap.add_argument("--model", default=MODEL)
    ap.add_argument("--seconds", type=float, default=300, help="training budget")
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--lr", type=float, default=5e-4)
    # the first run (10% empty captions, one lr) barely followed edges (F1 0.293 vs 0.286 without): with a caption
    # the frozen UNet already knows the emoji, so little gradient reached the control. ControlNet's paper drops 50%.
    ap.add_argument("--drop", type=float, default=0.5, help="share of empty captions in training")
    ap.add_argument("--zero-lr-mult", type=float, default=4.0, help="lr multiplier for the zero convolutions")
    ap.add_argument("--smoke", action="store_true", help="40 concepts, 10 s of training, small evaluation")
    return ap.parse_args()


# ---------------------------------------------------------------- frozen parts
def ort_session(path, threads=None):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads or os.cpu_count() or 4
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def embed_captions(model, ids, empty):
    """Text-encoder outputs for every caption: ids [N, K, L] int16 (tokenize_all) -> [N, K, 77, D] fp16 on
    the GPU, and the empty caption's [77, D]. The encoder is frozen, so it runs once, in onnxruntime."""
    s = ort_session(f"{model}/text_encoder/model.onnx")
    n, k, L = ids.shape
    full = np.repeat(empty[None], n * k, 0).astype(np.int32)
    full[:, :L] = ids.reshape(n * k, L)
    out = [s.run(None, {"input_ids": full[i:i + 512]})[0] for i in range(0, len(full), 512)]
    e = torch.from_numpy(np.concatenate(out)).half().cuda()
    e0 = torch.from_numpy(s.run(None, {"input_ids": empty[None].astype(np.int32)})[0][0]).half().cuda()
    return e.reshape(n, k, 77, -1), e0


def load_unet(model):
    from diffusers import UNet2DConditionModel
    cfg = json.load(open(f"{model}/unet/config.json"))
    unet = load_onnx_weights(UNet2DConditionModel.from_config(cfg), f"{model}/unet/model.onnx").eval()
    x, ehs = torch.randn(2, 4, SIZE // 8, SIZE // 8), torch.randn(2, 77, cfg["cross_attention_dim"])
    err = check(f"{model}/unet/model.onnx", UNetOnnx(unet), ["sample", "timestep", "encoder_hidden_states"],
                [x, torch.tensor([500.0]), ehs])
    log(f"UNet from ONNX: {nparams(unet)/1e6:.2f}M params, torch vs onnxruntime max abs {err:.2e}")
    if err > 1e-3:
        raise RuntimeError(f"the UNet read back from ONNX differs from the graph (max abs {err})")
    return unet, err


def load_vae(model, part):
    """AutoencoderKL with the encoder (vae_encoder) or decoder (vae_decoder) half read from its graph."""
    from diffusers import AutoencoderKL
    cfg = json.load(open(f"{model}/{part}/config.json"))
    half = ("encoder.", "quant_conv.") if part == "vae_encoder" else ("decoder.", "post_quant_conv.")
    vae = load_onnx_weights(AutoencoderKL.from_config(cfg), f"{model}/{part}/model.onnx", lambda k: k.startswith(half))
    return vae.eval(), cfg["scaling_factor"]


@torch.no_grad()
def encode_latents(model, imgs):
    """Posterior means x scaling factor of [N, 128, 128, 3] uint8 images, as the base UNet trained on."""
    vae, sf = load_vae(model, "vae_encoder")
    x = torch.randn(1, 3, SIZE, SIZE)
    err = check(f"{model}/vae_encoder/model.onnx", VaeEncoderOnnx(vae), ["sample"], [x])
    log(f"VAE encoder from ONNX: torch vs onnxruntime max abs {err:.2e}")
    if err > 1e-3:
        raise RuntimeError(f"the VAE encoder read back from ONNX differs from the graph (max abs {err})")
    vae = vae.cuda()
    out = []
    for i in range(0, len(imgs), 256):
        x = torch.from_numpy(imgs[i:i + 256]).cuda().permute(0, 3, 1, 2).float() / 127.5 - 1
        out.append(vae.encode(x).latent_dist.mean * sf)
    return torch.cat(out).half(), err


def edges_of(imgs, device="cuda"):
    """Canny edges [N, H, W] bool of [N, H, W, 3] uint8 images, in chunks."""
    out = []
    for i in range(0, len(imgs), 512):
        out.append(canny(grey(torch.from_numpy(imgs[i:i + 512]).to(device)), LOW, HIGH))
    return torch.cat(out)


# ---------------------------------------------------------------- training
class Source:
    """Rows to draw from, with their latents, caption embeddings and edge maps on the GPU (default
    generator, so a step drawing from it can be captured as a CUDA graph)."""

    def __init__(s, lat, emb, empty, edges):
        s.lat, s.emb, s.empty, s.edges = lat, emb, empty, edges
        s.ac = alphas_cumprod().cuda()

    def draw(s, B, drop=0.1, t=None, gen=None):
        n, k = s.emb.shape[:2]
        idx = torch.randint(0, n, (B,), device="cuda", generator=gen)
        ehs = s.emb[idx, torch.randint(0, k, (B,), device="cuda", generator=gen)]
        if drop:
            ehs = torch.where((torch.rand(B, device="cuda", generator=gen) < drop)[:, None, None], s.empty[None], ehs)
        z = s.lat[idx].float()
        noise = torch.randn(z.shape, device="cuda", generator=gen)
        t = torch.randint(0, 1000, (B,), device="cuda", generator=gen) if t is None else torch.full((B,), t, device="cuda")
        a = s.ac[t][:, None, None, None]
        cond = s.edges[idx][:, None].float().expand(-1, 3, -1, -1)
        return a.sqrt() * z + (1 - a).sqrt() * noise, t, ehs.float(), cond, noise

    def weights(s, t, gamma=5.0):
        snr = s.ac[t] / (1 - s.ac[t])
        return snr.clamp(max=gamma) / snr


def eps(unet, cn, zt, t, ehs, cond, scale=1.0):
    down, mid = cn(zt, t, encoder_hidden_states=ehs, controlnet_cond=cond, conditioning_scale=scale, return_dict=False)
    return unet(zt, t, ehs, down_block_additional_residuals=down, mid_block_additional_residual=mid).sample


ZERO = ("controlnet_down_blocks.", "controlnet_mid_block.", "controlnet_cond_embedding.conv_out.")


def train(cn, unet, src, budget, B, peak_lr, drop, zero_mult):
    named = [(k, p) for k, p in cn.named_parameters() if p.requires_grad]
    params = [p for _, p in named]
    zero = [p for k, p in named if k.startswith(ZERO)]
    rest = [p for k, p in named if not k.startswith(ZERO)]
    opt = graph_adamw(rest, peak_lr, weight_decay=1e-2, betas=(0.9, 0.99))
    # the zero convolutions start at 0 and must grow before any control shows: their own, higher lr
    opt.add_param_group({"params": zero, "lr": torch.tensor(peak_lr * zero_mult, device="cuda")})
    cn.train()
    warm = 200

    def step_fn():
        zt, t, ehs, cond, noise = src.draw(B, drop)
        with torch.autocast("cuda", torch.bfloat16, cache_enabled=False):
            pred = eps(unet, cn, zt, t, ehs, cond).float()
        loss = (src.weights(t) * (pred - noise).pow(2).mean((1, 2, 3))).mean()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0, foreach=True)
        opt.step()
        return loss

    def prepare(i, frac):  # warm-up, then linear decay to 10% over the budget
        f = min(1, (i + 1) / warm) * (1 - 0.9 * frac)
        opt.param_groups[0]["lr"].fill_(peak_lr * f)
        opt.param_groups[1]["lr"].fill_(peak_lr * zero_mult * f)

    n, loss, secs = train_loop("controlnet", step_fn, opt, budget, prepare, every=500)
    cn.eval()
    log(f"controlnet: {n} steps, {secs:.0f} s ({secs / max(n, 1) * 1000:.1f} ms/step), last loss {loss:.4f}")
    return {"steps": n, "seconds": round(secs, 1), "batch": B, "lr": peak_lr, "zero_conv_lr": peak_lr * zero_mult,
            "empty_captions": drop, "last_loss": round(loss, 4)}


@torch.no_grad()
def denoise_mse(unet, cn, src, n=512, ts=(100, 300, 500, 700, 900)):
    """Epsilon MSE with the ControlNet (scale 1) and without it (scale 0: the plain UNet) on fixed draws."""
    out = {}
    for t in ts:
        g = torch.Generator("cuda").manual_seed(1000 + t)
        zt, tt, ehs, cond, noise = src.draw(n, drop=0, t=t, gen=g)
        out[t] = {f"scale{s}": round(float((eps(unet, cn, zt, tt, ehs, cond, s) - noise).pow(2).mean()), 5) for s in (1.0, 0.0)}
    return out


# ---------------------------------------------------------------- images: do generated images follow the edges?
@torch.no_grad()
def edge_follow(model, unet, cn, emb, empty, edges, steps=25, guidance=3.0, seed=5):
    """Generates one image per control map (StableDiffusionControlNetPipeline, PNDM, the concept's first
    caption), with the ControlNet at scale 1 and at scale 0, computes canny on the result and scores it
    against the control edges: F1 with a 1-pixel tolerance (an edge pixel counts as matched when an edge
    of the other map lies in its 3x3 neighbourhood). Returns (figures, sample images [2, N, H, W, 3])."""
    from diffusers import PNDMScheduler, StableDiffusionControlNetPipeline
    from sd_export import SD15_SCHEDULER
    vae, _ = load_vae(model, "vae_decoder")
    pipe = StableDiffusionControlNetPipeline(vae=vae.cuda(), text_encoder=None, tokenizer=None, unet=unet, controlnet=cn,
                                             scheduler=PNDMScheduler.from_config(SD15_SCHEDULER), safety_checker=None,
                                             feature_extractor=None, requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    n = len(edges)
    cond = edges[:, None].float().expand(-1, 3, -1, -1).contiguous()
    res, imgs = {}, []
    for scale in (1.0, 0.0):
        g = torch.Generator("cuda").manual_seed(seed)
        im = pipe(prompt_embeds=emb.float(), negative_prompt_embeds=empty[None].float().expand(n, -1, -1).contiguous(),
                  image=cond, num_inference_steps=steps, guidance_scale=guidance, controlnet_conditioning_scale=scale,
                  height=SIZE, width=SIZE, generator=g, output_type="np").images
        u8 = (np.clip(im, 0, 1) * 255).round().astype(np.uint8)
        got = edges_of(u8)
        dil = lambda e: torch.nn.functional.max_pool2d(e[:, None].float(), 3, 1, 1)[:, 0] > 0  # noqa: E731
        prec = (got & dil(edges)).sum((1, 2)).float() / got.sum((1, 2)).clamp(min=1)
        rec = (edges & dil(got)).sum((1, 2)).float() / edges.sum((1, 2)).clamp(min=1)
        f1 = 2 * prec * rec / (prec + rec).clamp(min=1e-9)
        res[f"scale{scale}"] = {"edge_f1_mean": round(float(f1.mean()), 4), "precision_mean": round(float(prec.mean()), 4),
                                "recall_mean": round(float(rec.mean()), 4)}
        imgs.append(u8)
    return res, np.stack(imgs)


def save_png(path, arr):
    from PIL import Image
    Image.fromarray(arr).save(path, optimize=True)


def write_readme(out, report):
    cfg = report["controlnet"]
    lines = [
        "# emoji-sd ControlNet (canny)", "",
        "A ControlNet for the embedded emoji model (`../emoji-sd`, whose studio.json lists this folder), conditioned on canny edges: white edges on black, RGB in [0, 1],",
        f"128x128 for the model's 16x16 latents. Made by `training/emoji_controlnet.py` (diffusers `ControlNetModel.from_unet`"
        f" on the emoji UNet, conditioning embedding {list(COND_CHANNELS)}); {cfg['params_m']} M parameters, weights stored fp16"
        f" as int8 per output channel ({report['export']['bytes'] / 1e6:.2f} MB; DequantizeLinear), computed fp32.", "",
        "## For the engine",
        "`model.onnx`: `sample [B,4,h,w]`, `timestep [1]`, `encoder_hidden_states [B,77,128]`, `controlnet_cond [B,3,8h,8w]`,",
        "`conditioning_scale [1]` -> `down_block_res_sample_0..8`, `mid_block_res_sample` (already times the scale), as",
        "`test/parity/reference/README.md` describes. Edges: the engine's canny (`app/canny.ts`), low 100, high 200; the",
        "training computed them with `training/emoji_train/canny.py`, the same steps (`canny-check/` holds an image and the",
        "edges computed in training; the engine's test compares).", "",
        "## Figures (measured in the training run)", "",
        "```", json.dumps({k: report[k] for k in ("denoise_mse", "edge_follow", "edge_follow_empty_prompt", "training") if k in report}, indent=1), "```", "",
        "`denoise_mse`: epsilon MSE on training images at fixed timesteps, ControlNet at scale 1 vs scale 0 (the plain UNet).",
        "`edge_follow`: held-out concepts' edge maps -> generated image (PNDM 25 steps, guidance 3) -> canny -> F1 against the",
        "control edges with 1-pixel tolerance; scale 0 is the same seeds without control. `samples.png`: rows = control edges,",
        "scale 1, scale 0.", "",
        "## Attributions",
        "Trained on the emoji renders of `training/build-dataset.mjs` (twemoji, noto, fluent sets; sources and licences in",
        "`../LICENSES.md`), starting from the emoji model's own UNet. diffusers (Apache-2.0): ControlNetModel and",
        "StableDiffusionControlNetPipeline; ControlNet: Zhang, Rao, Agrawala, *Adding Conditional Control to Text-to-Image",
        "Diffusion Models* (2023).", ""]
    open(f"{out}/README.md", "w").write("\n".join(lines))


def main():
    a = parse_args()
    torch.backends.cuda.matmul.allow_tf32 = True; torch.backends.cudnn.allow_tf32 = True
    torch.backends.cudnn.benchmark = True
    seed_all(31)
    os.makedirs(a.out, exist_ok=True)
    report = {"started": time.strftime("%Y-%m-%d %H:%M:%S"), "torch": torch.__version__, "smoke": a.smoke}
    ix, meta, imgs = load_dataset(a.data, True)
    concepts = ix["concepts"]
    if a.smoke:
        keep = np.nonzero(meta["concept"] < 40)[0]
        meta, imgs = {k: v[keep] for k, v in meta.items()}, imgs[keep]
    base = meta["style"] < 3
    rows, held = np.nonzero(train_rows(meta))[0], np.nonzero(base & meta["held"])[0]
    log(f"{len(rows)} training rows, {len(held)} held-out rows (base styles)")

    tok = make_tokenizer()
    sel = np.concatenate([rows, held])
    ids, empty = tokenize_all(tok, concepts, {k: v[sel] for k, v in meta.items()})
    emb, e0 = embed_captions(a.model, ids, empty)
    log(f"caption embeddings {tuple(emb.shape)}")
    lat, report["vae_encoder_onnx_vs_torch"] = encode_latents(a.model, imgs[sel])
    edges = edges_of(imgs[sel])
    log(f"latents {tuple(lat.shape)}, edges {tuple(edges.shape)}: {float(edges.float().mean()) * 100:.1f}% edge pixels")

    # canny-check: the first training image and its edges, for the TypeScript canny's test
    os.makedirs(f"{a.out}/canny-check", exist_ok=True)
    save_png(f"{a.out}/canny-check/image.png", imgs[sel[0]])
    save_png(f"{a.out}/canny-check/edges.png", edges[0].cpu().numpy().astype(np.uint8) * 255)
    json.dump({"low": LOW, "high": HIGH, "edgePixels": int(edges[0].sum())}, open(f"{a.out}/canny-check/params.json", "w"))

    from diffusers import ControlNetModel
    unet, report["unet_onnx_vs_torch"] = load_unet(a.model)
    unet = unet.cuda().requires_grad_(False)
    cn = ControlNetModel.from_unet(unet, conditioning_embedding_out_channels=COND_CHANNELS).cuda()
    report["controlnet"] = {"params_m": round(nparams(cn) / 1e6, 3), "conditioning_embedding_out_channels": list(COND_CHANNELS)}
    log(f"ControlNet {nparams(cn)/1e6:.2f}M params")
    nt = len(rows)
    tr = Source(lat[:nt], emb[:nt], e0, edges[:nt])
    report["denoise_mse_before"] = denoise_mse(unet, cn, tr, 128 if a.smoke else 512)
    report["training"] = train(cn, unet, tr, 10 if a.smoke else a.seconds, min(a.batch, 64) if a.smoke else a.batch, a.lr,
                               a.drop, a.zero_lr_mult)
    int8_round(cn)  # evaluate and export exactly what ships
    report["denoise_mse"] = denoise_mse(unet, cn, tr, 128 if a.smoke else 512)
    log("denoise mse", report["denoise_mse"])

    # export (before the image evaluation, so a failure there keeps the graph)
    cpu = cn.float().cpu().eval()
    names, args, outs = export_controlnet(cpu, a.out, height=SIZE // 8, width=SIZE // 8)
    report["export"] = int8_storage(f"{a.out}/model.onnx")
    report["export"]["onnx_vs_torch_max_abs"] = check(f"{a.out}/model.onnx", ControlNetOnnx(cpu), names, args)
    report["export"]["outputs"] = outs
    log("export", report["export"])
    json.dump(report, open(f"{a.out}/report.json", "w"), indent=1)

    cn = cpu.cuda()
    pick = np.arange(len(rows), len(sel))[:16 if a.smoke else 128]  # held-out concepts' edges
    if len(pick) == 0:
        pick = np.arange(min(16, len(rows)))
    report["edge_follow"], samples = edge_follow(a.model, unet, cn, emb[pick, 0], e0, edges[pick])
    report["edge_follow"]["images"] = int(len(pick))
    report["edge_follow_empty_prompt"], _ = edge_follow(a.model, unet, cn, e0[None].expand(len(pick), -1, -1), e0, edges[pick])
    log("edge follow", report["edge_follow"])
    k = min(8, len(pick))
    ctrl = np.repeat(edges[pick[:k]].cpu().numpy().astype(np.uint8)[..., None] * 255, 3, -1)
    grid = np.concatenate([np.concatenate(list(r[:k]), 1) for r in (ctrl, samples[0], samples[1])], 0)
    save_png(f"{a.out}/samples.png", grid)
    report["seconds"] = round(now(), 1)
    json.dump(report, open(f"{a.out}/report.json", "w"), indent=1)
    write_readme(a.out, report)
    log("done", a.out)


if __name__ == "__main__":
    main()
