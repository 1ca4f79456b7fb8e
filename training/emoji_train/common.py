"""Sizes, model configs, the run's clock and logging: what every stage shares."""
import os, time
import numpy as np
import torch

T0 = time.time()  # after torch's import, as before the split: --deadline counts from here
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOK_DIR = os.path.join(ROOT, "assets/models/emoji-sd/tokenizer")
STYLES = ["twemoji", "noto", "fluent", "openmoji", "pixel"]
SIZE = 128
VAE_CFG = dict(in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 4,
               up_block_types=("UpDecoderBlock2D",) * 4, block_out_channels=(32, 64, 64, 64),
               layers_per_block=1, latent_channels=4, norm_num_groups=32, sample_size=SIZE)
TE_CFG = dict(hidden_size=128, intermediate_size=512, num_hidden_layers=4, num_attention_heads=4,
              max_position_embeddings=77, projection_dim=128, hidden_act="quick_gelu", layer_norm_eps=1e-5)
# UNet candidates, preferred first; the first whose measured CPU time and size fit is trained.
UNET_CANDIDATES = [(64, 128, 128), (64, 96, 128), (48, 96, 128), (32, 64, 128)]
UNET_MAX_PARAMS = 5.6e6  # fp16 weights: keeps the model folder (with LoRAs) under 20 MB
STYLE_LORA_TARGETS = ("to_q", "to_k", "to_v", "to_out.0", "ff.net.0.proj", "ff.net.2")
STYLE_LORAS = (("lora_openmoji", "openmoji"), ("lora_pixel", "pixel"))  # state file name, style
# as diffusers' train_lcm_distill_lora_sd_wds.py
LCM_TARGETS = STYLE_LORA_TARGETS + ("proj_in", "proj_out", "conv1", "conv2", "conv_shortcut",
                                    "downsamplers.0.conv", "upsamplers.0.conv", "time_emb_proj")


def now():
    return time.time() - T0


def log(*a):
    print(f"[{now():6.1f}s]", *a, flush=True)


def seed_all(s):
    torch.manual_seed(s); np.random.seed(s)
