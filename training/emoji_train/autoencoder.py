"""VAE training and the latents of every image (the generator stages train on those, not on pixels)."""
import math
import numpy as np
import torch
from .common import log, now, seed_all
from .data import train_rows
from .models import make_vae, nparams
from .state import save_sd


def stage_vae(st, imgs_gpu, budget):
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
    train = torch.from_numpy(train_rows(meta)).cuda()
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
