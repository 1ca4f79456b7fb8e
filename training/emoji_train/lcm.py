"""LCM-LoRA distillation of the base (4-step sampling at guidance 1)."""
import os
import torch
from .batches import BatchSource
from .common import LCM_TARGETS, log, seed_all
from .data import train_rows
from .lora import lora_copy, lora_numel, save_lora
from .loop import graph_adamw, train_loop


def stage_lcm(st, unet, te, data, budget, max_bytes=3.0e6, B=512):
    """LCM-LoRA distillation as in diffusers' train_lcm_distill_lora_sd_wds.py (DDIM solver, 50 skip
    steps, CFG teacher w in [2, 8], Huber loss, target from the student itself under no_grad)."""
    seed_all(20)
    rank = next(r for r in (64, 48, 32, 24, 16, 8) if 2 * lora_numel(unet, LCM_TARGETS, r) <= max_bytes)
    teacher = unet
    u, layers, lp = lora_copy(unet, LCM_TARGETS, rank)
    opt = graph_adamw(lp, 5e-4, weight_decay=0.0)
    src = BatchSource(data, train_rows(data.meta), st.meta["scaling_factor"])
    ac = src.ac
    n_ddim, topk = 50, 20
    ddim_t = (torch.arange(1, n_ddim + 1, device="cuda") * topk - 1).long()
    ac_prev = torch.cat([ac[:1], ac[ddim_t[:-1]]])

    def bound(t):  # LCMScheduler's c_skip, c_out (sigma_data 0.5, timestep_scaling 10)
        s = t.float() * 10.0
        return (0.25 / (s ** 2 + 0.25))[:, None, None, None], (s / (s ** 2 + 0.25) ** 0.5)[:, None, None, None]

    def x0(eps, x, t):
        a = ac[t][:, None, None, None]
        return (x - (1 - a).sqrt() * eps) / a.sqrt()
    with torch.no_grad(), torch.autocast("cuda", torch.bfloat16):
        unc = te(src.empty[None])[0].expand(B, -1, -1).contiguous()

    def step_fn():
        _, _, tokens, noise, z = src.draw(B, drop=0.0)
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
    path = st.p("lcm_lora.safetensors")
    save_lora(layers, path, rank, LCM_TARGETS, scheduler="LCMScheduler, guidance_scale 1.0, 4 steps")
    st.save("lcm", lcm_steps=step, lcm_seconds=round(secs, 1), lcm_rank=rank, lcm_batch=B)
    log(f"lcm done {step} steps rank {rank}, loss {loss:.5f}, {os.path.getsize(path)/1e6:.2f} MB")
