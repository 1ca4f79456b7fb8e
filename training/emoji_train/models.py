"""The model architectures (tokenizer, CLIP text encoder, UNet, VAE) and loading the trained ones."""
import torch
from .common import SIZE, TE_CFG, TOK_DIR, VAE_CFG
from .state import load_sd


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


def int8_round(m):
    """What int8_storage ships (weights of >= 2 dims and >= 1024 values, symmetric per output channel), in place."""
    with torch.no_grad():
        for p in m.parameters():
            if p.dim() >= 2 and p.numel() >= 1024:
                s = p.abs().amax(tuple(range(1, p.dim())), keepdim=True).clamp(min=1e-12) / 127
                p.copy_((p / s).round().clamp(-127, 127) * s)
            elif p.numel() >= 1024:
                p.copy_(p.half().float())
    return m


def load_vae(st):
    vae = make_vae()
    vae.load_state_dict(load_sd(st.p("vae.safetensors")))
    return vae.cuda().eval()


def load_base(st, tok):
    """The trained text encoder and UNet (EMA weights, fp16-rounded), on the GPU."""
    te, unet = make_te(tok), make_unet(st.meta["unet_arch"])
    te.load_state_dict(load_sd(st.p("te_ema.safetensors")))
    unet.load_state_dict(load_sd(st.p("unet_ema.safetensors")))
    return fp16_round(te.cuda().eval()), fp16_round(unet.cuda().eval())
