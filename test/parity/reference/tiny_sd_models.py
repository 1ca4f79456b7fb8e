"""The tiny SD components of the parity fixture, built deterministically so every reference
script (make_tiny_sd.py, make_accel_refs.py) gets the same weights."""
import json, os
import torch
from diffusers import AutoencoderKL, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel

TINY_SD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "fixtures", "tiny-sd")


def build_models(vocab):
    """The tiny components, deterministically (other reference scripts rebuild the same weights)."""
    torch.manual_seed(0)
    text_encoder = CLIPTextModel(CLIPTextConfig(
        bos_token_id=vocab["<|startoftext|>"], eos_token_id=vocab["<|endoftext|>"], pad_token_id=vocab["<|endoftext|>"],
        hidden_size=32, intermediate_size=37, layer_norm_eps=1e-5, num_attention_heads=4, num_hidden_layers=3,
        vocab_size=len(vocab), max_position_embeddings=77, projection_dim=32)).eval()
    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        block_out_channels=(16, 16, 32), layers_per_block=2, sample_size=8, in_channels=4, out_channels=4,
        down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=32, attention_head_dim=8, norm_num_groups=8).eval()
    torch.manual_seed(0)
    vae = AutoencoderKL(block_out_channels=[16, 16, 32, 32], in_channels=3, out_channels=3, layers_per_block=1,
                        down_block_types=["DownEncoderBlock2D"] * 4, up_block_types=["UpDecoderBlock2D"] * 4,
                        latent_channels=4, norm_num_groups=8, sample_size=64).eval()
    # random init leaves the VAE's outputs near zero; scale the last conv so images use the range
    with torch.no_grad():
        vae.decoder.conv_out.weight.mul_(8.0)
    return text_encoder, unet, vae


def load_tiny_sd(fixture=TINY_SD):
    """tiny-sd's tokenizer, the rebuilt (text_encoder, unet, vae) and its scheduler config, once the rebuilt
    UNet is checked against the committed graph (same weights, or the references would not fit it)."""
    from transformers import CLIPTokenizer
    from sd_export import UNetOnnx, check, unet_inputs
    tokenizer = CLIPTokenizer.from_pretrained(f"{fixture}/tokenizer")
    text_encoder, unet, vae = build_models(json.load(open(f"{fixture}/tokenizer/vocab.json")))
    names, args, _ = unet_inputs(unet)
    same = check(f"{fixture}/unet/model.onnx", UNetOnnx(unet), names, args)
    print("rebuilt tiny-sd unet vs committed onnx: max abs", same)
    assert same < 1e-4, "rebuilt tiny-sd weights differ from the committed fixture"
    return tokenizer, (text_encoder, unet, vae), json.load(open(f"{fixture}/scheduler/scheduler_config.json"))
