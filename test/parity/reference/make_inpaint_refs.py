"""Inpainting references (diffusers' StableDiffusionInpaintPipeline) on the tiny-sd components, both ways:
a small random 9-channel inpainting UNet (latents + mask + masked-image latents), and the latent blend that
the pipeline does with tiny-sd's own 4-channel UNet.
    python3 test/parity/reference/make_inpaint_refs.py <out-dir>
Writes <out-dir>/tiny-sd-inpaint/ (its unet; text encoder, tokenizer and VAE are links to tiny-sd's) and
<out-dir>/tiny-sd-inpaint-reference.json.gz. README.md beside this file says what each run records.
"""
import os, shutil, sys
import numpy as np
import torch
import diffusers
from diffusers import DDIMScheduler, EulerAncestralDiscreteScheduler, EulerDiscreteScheduler, PNDMScheduler, StableDiffusionInpaintPipeline
from ref_io import b64, record_run, write_gz
from sd_export import UNetOnnx, check, export_unet, write_sd_model_index
from small_unets import small_unet
from tiny_sd_models import TINY_SD, load_tiny_sd

OUT = sys.argv[1]
MODEL = os.path.join(OUT, "tiny-sd-inpaint")
torch.use_deterministic_algorithms(True)
H, W = 64, 96

tokenizer, (text_encoder, unet4, vae), CONFIG = load_tiny_sd()

unet9 = small_unet(in_channels=9)
print("params unet9", sum(p.numel() for p in unet9.parameters()))
names, args = export_unet(unet9, f"{MODEL}/unet")
onnx_check = check(f"{MODEL}/unet/model.onnx", UNetOnnx(unet9), names, args)
print("unet9 onnx vs torch max abs", onnx_check)
shutil.copytree(f"{TINY_SD}/scheduler", f"{MODEL}/scheduler")
for part in ("text_encoder", "tokenizer", "vae_encoder", "vae_decoder"):
    os.symlink(f"../tiny-sd/{part}", f"{MODEL}/{part}")
write_sd_model_index(MODEL, diffusers.__version__, "OnnxStableDiffusionInpaintPipeline")

# ---------------------------------------------------------------- inputs: tiny-sd's init image; a mask off the 8-pixel grid with grey edges
rng = np.random.RandomState(3)
init_image = (rng.rand(H, W, 3) * 0.6 + np.linspace(0, 0.4, W)[None, :, None]).astype(np.float32)
yy, xx = np.mgrid[0:H, 0:W]
mask = np.zeros((H, W), np.float32)
mask[13:45, 21:70] = 1.0
mask[13:45, 19:21] = 0.7  # >= 0.5: binarised to 1 (repaint)
mask[45:47, 21:70] = 0.3  # < 0.5: binarised to 0 (keep)
mask[(yy - 50) ** 2 + (xx - 82) ** 2 < 64] = 1.0
IMAGE = torch.from_numpy(init_image).permute(2, 0, 1)[None] * 2 - 1
MASK = torch.from_numpy(mask)[None, None]

SCHED = {"pndm": PNDMScheduler, "ddim": DDIMScheduler, "euler": EulerDiscreteScheduler, "euler-a": EulerAncestralDiscreteScheduler}
ref = {"diffusers": diffusers.__version__, "torch": torch.__version__, "width": W, "height": H, "onnxVsTorch": {"unet/model.onnx": onnx_check},
       "init_image": b64(init_image), "mask": b64(mask), "runs": []}


def run(name, unet, scheduler, strength, steps, guidance=7.5, negative="blurry, low quality", seed=42):
    p = StableDiffusionInpaintPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                                       scheduler=SCHED[scheduler].from_config(CONFIG), safety_checker=None,
                                       feature_extractor=None, requires_safety_checker=False)
    p.set_progress_bar_config(disable=True)
    entry, img = record_run(p, seed, ("mask", "masked_image_latents"), prompt="a photo of an astronaut riding a horse",
                            negative_prompt=negative, image=IMAGE, mask_image=MASK, height=H, width=W, strength=strength,
                            num_inference_steps=steps, guidance_scale=guidance)
    ref["runs"].append({"name": name, "model": "tiny-sd-inpaint" if unet is unet9 else "tiny-sd",
                        "method": "9-channel" if unet is unet9 else "latent-blend", "scheduler": scheduler, "strength": strength,
                        "steps": steps, "guidance": guidance, "prompt": "a photo of an astronaut riding a horse",
                        "negativePrompt": negative, "width": W, "height": H, **entry})
    keep = float(np.abs(img[0][mask < 0.5] - init_image[mask < 0.5]).mean())
    print(name, "done", img.shape, float(img.mean()), "mean |out - init| outside the mask", keep)


run("9ch-pndm-strength1", unet9, "pndm", 1.0, 8)
run("9ch-ddim-strength0.6", unet9, "ddim", 0.6, 10)
run("9ch-euler-a-nocfg", unet9, "euler-a", 1.0, 6, guidance=1.0, negative=None, seed=7)
run("blend-ddim-strength1", unet4, "ddim", 1.0, 8)
run("blend-euler-strength0.7", unet4, "euler", 0.7, 10)
run("blend-euler-a-strength0.8", unet4, "euler-a", 0.8, 8, seed=5)
run("blend-pndm-nocfg", unet4, "pndm", 1.0, 6, guidance=1.0, negative=None, seed=3)

write_gz(f"{OUT}/tiny-sd-inpaint-reference.json.gz", ref)
print("wrote", OUT, os.path.getsize(f"{OUT}/tiny-sd-inpaint-reference.json.gz"))
