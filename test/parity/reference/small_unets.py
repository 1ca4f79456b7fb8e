"""Small random UNets that fit tiny-sd's text encoder (width 32) and VAE (4 latent channels), for the
inpainting and ControlNet fixtures, and a ControlNet that fits them. Seeded: every script rebuilds the same.
Cross-attention in the mid block only: a tiny graph's size is mostly its node names (~230 bytes a node),
and each transformer block is ~200 nodes."""
import torch
from diffusers import ControlNetModel, UNet2DConditionModel

SMALL = dict(block_out_channels=(4, 8), layers_per_block=1, cross_attention_dim=32, attention_head_dim=2, norm_num_groups=4)


def small_unet(in_channels=4, seed=6):
    torch.manual_seed(seed)
    return UNet2DConditionModel(sample_size=8, in_channels=in_channels, out_channels=4,
                                down_block_types=("DownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "UpBlock2D"),
                                **SMALL).eval()


def small_controlnet(seed):
    """ControlNetModel for small_unet(); its zero-initialised convs (conditioning embedding out, the
    per-skip and mid projections) get random weights so the residuals are not all zero."""
    torch.manual_seed(seed)
    cn = ControlNetModel(in_channels=4, down_block_types=("DownBlock2D", "DownBlock2D"),
                         conditioning_embedding_out_channels=(4, 8, 8, 8), **SMALL).eval()
    with torch.no_grad():
        for conv in [cn.controlnet_cond_embedding.conv_out, *cn.controlnet_down_blocks, cn.controlnet_mid_block]:
            conv.weight.normal_(0, 0.3)
            conv.bias.normal_(0, 0.05)
    return cn
