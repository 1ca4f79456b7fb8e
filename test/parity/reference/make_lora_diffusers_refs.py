"""LoRA references from diffusers' own loader: load_lora_weights + fuse_lora on the tiny fixture.
    python3 test/parity/reference/make_lora_diffusers_refs.py <out-dir>
UNet-only LoRAs (diffusers' key conversion assumes a CLIPTextModel with `text_model`, which
transformers 5 no longer has), in PEFT and kohya keys; writes the files and the images.
"""
import base64, json, os, sys, traceback
import numpy as np
import torch
from diffusers import DDIMScheduler, StableDiffusionPipeline
from safetensors.torch import load_file, save_file
from transformers import CLIPTokenizer
from tiny_sd_models import build_models

OUT = sys.argv[1]
FIXTURE = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures")
os.makedirs(OUT, exist_ok=True)
tokenizer = CLIPTokenizer.from_pretrained(os.path.join(FIXTURE, "tiny-sd", "tokenizer"))
vocab = json.load(open(os.path.join(FIXTURE, "tiny-sd", "tokenizer", "vocab.json")))
config = json.load(open(os.path.join(FIXTURE, "tiny-sd", "scheduler", "scheduler_config.json")))
out = {"lora_diffusers": []}

for name, keep in (("peft", lambda k: k.startswith("unet.")), ("kohya", lambda k: k.startswith("lora_unet_") and "conv1" not in k and "proj_in" not in k)):
    sd = {k: v for k, v in load_file(os.path.join(FIXTURE, "loras", f"tiny-lora-{name}.safetensors")).items() if keep(k)}
    path = os.path.join(OUT, f"tiny-lora-{name}-unet.safetensors")
    save_file(sd, path)
    te, unet, vae = build_models(vocab)
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=te, tokenizer=tokenizer, unet=unet, scheduler=DDIMScheduler.from_config(config),
                                   safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    try:
        pipe.load_lora_weights(path)
        pipe.fuse_lora(lora_scale=0.8)
        pipe.unload_lora_weights()
        with torch.no_grad():
            img = pipe(prompt="a photo of an astronaut riding a horse", negative_prompt="blurry, low quality", guidance_scale=7.5,
                       num_inference_steps=8, width=96, height=64, generator=torch.Generator("cpu").manual_seed(42), output_type="np").images
        out["lora_diffusers"].append({"file": os.path.basename(path), "weight": 0.8, "steps": 8,
                                      "image": base64.b64encode((np.clip(img, 0, 1) * 65535 + 0.5).astype(np.uint16).tobytes()).decode()})
        print(name, "ok")
    except Exception:  # noqa: BLE001
        traceback.print_exc(limit=6)
json.dump(out, open(os.path.join(OUT, "lora-diffusers-reference.json"), "w"))
