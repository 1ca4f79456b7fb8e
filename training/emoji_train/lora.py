"""LoRA layers in the PEFT/diffusers key layout: inject, save, count, merge."""
import copy, math
import torch
import torch.nn as nn
from .state import save_sd


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


def lora_copy(unet, targets, rank):
    """A frozen copy of unet with LoRA layers injected; returns (copy, layers, the LoRA parameters)."""
    u = copy.deepcopy(unet).train()
    for p in u.parameters():
        p.requires_grad_(False)
    layers = inject_lora(u, targets, rank)
    return u, layers, [p for l in layers.values() for p in (l.lora_A.weight, l.lora_B.weight)]


def save_lora(layers, path, rank, targets, **meta):
    """lora_state as fp16 safetensors with the metadata both LoRA stages write (+ their own keys)."""
    sd = lora_state(layers)
    save_sd(sd, path, torch.float16, {"format": "diffusers-peft", "rank": str(rank), "alpha": str(rank), "scale": "1.0",
                                      "target_modules": ",".join(targets), **meta})
    return sd
