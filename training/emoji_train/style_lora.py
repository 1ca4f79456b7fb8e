"""The style LoRAs (openmoji, pixel art): UNet LoRA on the frozen base, the base's own loss."""
import math, os
import torch
from captions import STYLE_WORDS
from .batches import BatchSource
from .common import STYLE_LORA_TARGETS, STYLES, log, seed_all
from .data import train_rows
from .lora import lora_copy, save_lora
from .loop import graph_adamw, train_loop


def stage_style_lora(st, name, unet, te, data, style_idx, rank, budget, B=512):
    seed_all(10 + style_idx)
    u, layers, lp = lora_copy(unet, STYLE_LORA_TARGETS, rank)
    opt = graph_adamw(lp, 1e-3, weight_decay=0.0)
    src = BatchSource(data, train_rows(data.meta, style_idx), st.meta["scaling_factor"])

    def step_fn():
        zt, t, tokens, noise, _ = src.draw(B)
        with torch.no_grad(), torch.autocast("cuda", torch.bfloat16, cache_enabled=False):
            ehs = te(tokens)[0]
        with torch.autocast("cuda", torch.bfloat16, cache_enabled=False):
            pred = u(zt, t, ehs).sample.float()
        loss = src.min_snr_loss(pred, noise, t)
        loss.backward()
        opt.step()
        return loss

    def prepare(i, frac):
        opt.param_groups[0]["lr"].fill_(1e-3 * min(1, (i + 1) / 100) * (0.2 + 0.8 * 0.5 * (1 + math.cos(math.pi * frac))))
    step, loss, secs = train_loop(name, step_fn, opt, budget, prepare, every=1000)
    path = st.p(f"{name}.safetensors")
    sd = save_lora(layers, path, rank, STYLE_LORA_TARGETS, trigger=STYLE_WORDS[STYLES[style_idx]])
    st.save(name, **{f"{name}_steps": step, f"{name}_seconds": round(secs, 1), f"{name}_rank": rank, f"{name}_batch": B})
    log(f"{name} done {step} steps, loss {loss:.4f}, {len(sd)} tensors, {os.path.getsize(path)/1e6:.2f} MB")
