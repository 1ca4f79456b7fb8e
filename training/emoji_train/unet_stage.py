"""Text encoder + UNet from scratch, jointly, over as many device calls as it takes (resumable, EMA)."""
import os
import torch
from .batches import BatchSource
from .common import log, seed_all
from .data import train_rows
from .loop import graph_adamw, train_loop
from .models import make_te, make_unet, nparams
from .state import load_sd, save_sd


def stage_unet(st, tok, data, budget, B, peak_lr, decay):
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
    src = BatchSource(data, train_rows(data.meta), st.meta["scaling_factor"])
    pd, ema_w = [p.detach() for p in params], torch.zeros((), device="cuda")
    unet.train(); te.train()

    def step_fn():
        zt, t, tokens, noise, _ = src.draw(B)
        with torch.autocast("cuda", torch.bfloat16, cache_enabled=False):
            pred = unet(zt, t, te(tokens)[0]).sample.float()
        loss = src.min_snr_loss(pred, noise, t)
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
                               checkpoint=lambda s, e: _save_unet(st, unet, te, opt, ema, s, tt + e))
    _save_unet(st, unet, te, opt, ema, step + n, tt + secs)
    st.save(None, unet_calls=st.meta.get("unet_calls", []) + [
        {"steps": n, "seconds": round(secs, 1), "batch": B, "lr": peak_lr, "decay": decay, "last_loss": round(loss, 4)}])
    log(f"unet done: {n} steps this call ({secs / n * 1000:.1f} ms/step), {step + n} in all, last loss {loss:.4f}")


def _save_unet(st, unet, te, opt, ema, step, secs):
    """Full checkpoint (kept in /tmp) and the compact EMA weights (carried)."""
    torch.save({"unet": unet.state_dict(), "te": te.state_dict(), "opt": opt.state_dict(), "ema": ema}, st.p("unet.full.pt"))
    names = [("unet", n) for n, _ in unet.named_parameters()] + [("te", n) for n, _ in te.named_parameters()]
    esd = {"unet": dict(unet.state_dict()), "te": dict(te.state_dict())}  # buffers from the live model
    for (m, n), e in zip(names, ema):
        assert n in esd[m], n
        esd[m][n] = e
    save_sd(esd["unet"], st.p("unet_ema.safetensors")); save_sd(esd["te"], st.p("te_ema.safetensors"))
    st.save(None, unet_steps=step, unet_seconds=round(secs, 1))
