"""A generator stage's training data on the GPU and the noise schedule it trains under."""
import numpy as np
import torch
from .data import expand_ids


def alphas_cumprod():
    b = torch.linspace(0.00085 ** 0.5, 0.012 ** 0.5, 1000, dtype=torch.float64) ** 2
    return torch.cumprod(1 - b, 0).float()


class BatchSource:
    """Latents, caption tokens and the rows to draw from (`rows`: a boolean mask over the dataset), uploaded
    once, with alphas_cumprod (`ac`) and the latent scaling factor (`sf`). The UNet, LoRA and LCM stages
    share it; draw() uses the default generator, so a step that calls it can live in a CUDA graph."""

    def __init__(s, data, rows, sf):
        s.ac = alphas_cumprod().cuda()
        s.pool = torch.from_numpy(np.nonzero(rows)[0]).cuda()
        s.sf = sf
        s.lat, s.ids, s.empty = data.lat.cuda(), torch.from_numpy(data.ids).cuda(), torch.from_numpy(data.empty).long().cuda()

    def draw(s, B, drop=0.1):
        """Latents of random images of the pool, one of their captions (`drop` of them empty, for CFG),
        timesteps, noise and the noised latents: (zt, t, tokens, noise, z)."""
        idx = s.pool[torch.randint(0, len(s.pool), (B,), device="cuda")]
        z = s.lat[idx].float() * s.sf
        k = torch.randint(0, s.ids.shape[1], (B,), device="cuda")
        tokens = expand_ids(s.ids[idx, k], s.empty)
        tokens = torch.where((torch.rand(B, device="cuda") < drop)[:, None], s.empty[None], tokens)
        noise = torch.randn_like(z)
        t = torch.randint(0, 1000, (B,), device="cuda")
        a = s.ac[t][:, None, None, None]
        return a.sqrt() * z + (1 - a).sqrt() * noise, t, tokens, noise, z

    def min_snr_loss(s, pred, noise, t, gamma=5.0):
        snr = s.ac[t] / (1 - s.ac[t])
        return ((snr.clamp(max=gamma) / snr) * (pred - noise).pow(2).mean((1, 2, 3))).mean()
