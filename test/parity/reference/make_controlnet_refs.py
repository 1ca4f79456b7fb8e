"""ControlNet references (diffusers' StableDiffusionControlNetPipeline) on tiny-sd's text encoder and VAE
with a small random UNet (small_unets.py) and a small ControlNet that fits it (MultiControlNet: the same
ControlNet twice, on two control images with their own scales and step windows).
    python3 test/parity/reference/make_controlnet_refs.py <out-dir>
Writes <out-dir>/tiny-sd-controlnet/ (UNet exported WITH residual inputs; controlnet/),
<out-dir>/tiny-sd-controlnet-plain/ (the same UNet exported plain, for the engine's residual surgery; the other
parts are links) and <out-dir>/tiny-sd-controlnet-reference.json.gz, which also names the skip tensors the
surgery must add to (for this UNet and for tiny-sd's), and <out-dir>/loras/tiny-sd-controlnet-lora.safetensors (a kohya
LoRA on the UNet, run with the ControlNet: `loraRuns`). README.md beside this file.
"""
import copy, os, shutil, sys, tempfile
import numpy as np
import torch
import diffusers
from diffusers import DDIMScheduler, EulerDiscreteScheduler, StableDiffusionControlNetPipeline, StableDiffusionPipeline
from safetensors.torch import save_file
from ref_io import b64, psnr, record_run, write_gz
from sd_export import ControlNetOnnx, UNetOnnx, check, export_controlnet, export_unet, skip_tensors, write_sd_model_index
from small_unets import small_controlnet, small_unet
from tiny_sd_models import TINY_SD, load_tiny_sd

OUT = sys.argv[1]
CN, PLAIN = os.path.join(OUT, "tiny-sd-controlnet"), os.path.join(OUT, "tiny-sd-controlnet-plain")
torch.use_deterministic_algorithms(True)
H, W = 64, 96

tokenizer, (text_encoder, tiny_unet, vae), CONFIG = load_tiny_sd()

unet, cn = small_unet(), small_controlnet(7)
for n, m in (("unet", unet), ("controlnet", cn)):
    print("params", n, sum(p.numel() for p in m.parameters()))

# ---------------------------------------------------------------- ONNX
checks = {}
names, args = export_unet(unet, f"{CN}/unet", residuals=True)
checks["tiny-sd-controlnet/unet/model.onnx"] = check(f"{CN}/unet/model.onnx", UNetOnnx(unet, residuals=len(names) - 4), names, args)
print("residual unet inputs", names)
names_p, args_p = export_unet(unet, f"{PLAIN}/unet")
checks["tiny-sd-controlnet-plain/unet/model.onnx"] = check(f"{PLAIN}/unet/model.onnx", UNetOnnx(unet), names_p, args_p)
cn_names, cn_args, cn_outs = export_controlnet(cn, f"{CN}/controlnet")
checks["tiny-sd-controlnet/controlnet/model.onnx"] = check(f"{CN}/controlnet/model.onnx", ControlNetOnnx(cn), cn_names, cn_args)
print("controlnet outputs", cn_outs)
for root in (CN, PLAIN):
    shutil.copytree(f"{TINY_SD}/scheduler", f"{root}/scheduler")
    for part in ("text_encoder", "tokenizer", "vae_encoder", "vae_decoder"):
        os.symlink(f"../tiny-sd/{part}", f"{root}/{part}")
    if root == PLAIN:
        os.symlink("../tiny-sd-controlnet/controlnet", f"{root}/controlnet")
    write_sd_model_index(root, diffusers.__version__, "OnnxStableDiffusionControlNetPipeline", extra=("controlnet",))
for k, v in checks.items():
    print(f"onnx vs torch max abs {k}: {v:.3g}")

# where the surgery adds the residuals: this UNet's plain export, and tiny-sd's committed UNet
skips = {"tiny-sd-controlnet-plain/unet/model.onnx": skip_tensors(f"{CN}/unet/model.onnx", f"{PLAIN}/unet/model.onnx")}
with tempfile.TemporaryDirectory() as tmp:
    export_unet(tiny_unet, f"{tmp}/unet", residuals=True)
    skips["tiny-sd/unet/model.onnx"] = skip_tensors(f"{tmp}/unet/model.onnx", f"{TINY_SD}/unet/model.onnx")
for k, v in skips.items():
    print(k, [(s["input"], s["tensor"], s["inPlainGraph"], len(s["upBlockConsumers"]), len(s["otherConsumers"])) for s in v])

# ---------------------------------------------------------------- control images: edges (lines) and a smooth disc
yy, xx = np.mgrid[0:H, 0:W]
edges = np.zeros((H, W, 3), np.float32)
edges[(xx % 23 < 2) | (yy % 17 < 2) | (np.abs(xx - 1.5 * yy) < 1.5)] = 1.0
disc = np.clip(1.2 - np.sqrt((yy - 30) ** 2 + (xx - 50) ** 2) / 25, 0, 1).astype(np.float32)[..., None] * np.array([1.0, 0.6, 0.2], np.float32)
IMG = {"edges": edges, "disc": disc}
T = {k: torch.from_numpy(v).permute(2, 0, 1)[None] for k, v in IMG.items()}

ref = {"diffusers": diffusers.__version__, "torch": torch.__version__, "width": W, "height": H, "onnxVsTorch": checks,
       "skipTensors": skips, "controlImages": {k: b64(v) for k, v in IMG.items()}, "runs": []}
SCHED = {"ddim": DDIMScheduler, "euler": EulerDiscreteScheduler}
BASE = dict(prompt="a photo of an astronaut riding a horse", height=H, width=W)


def run(name, scheduler, steps=8, images=("edges",), scale=1.0, start=0.0, end=1.0, guidance=7.5,
        negative="blurry, low quality", seed=42, record_residuals=False, un=None, lora=None):
    multi = len(images) > 1
    p = StableDiffusionControlNetPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet if un is None else un,
                                          controlnet=[cn] * len(images) if multi else cn,
                                          scheduler=SCHED[scheduler].from_config(CONFIG), safety_checker=None,
                                          feature_extractor=None, requires_safety_checker=False)
    p.set_progress_bar_config(disable=True)
    if lora:  # diffusers' LoRA loading patches the UNet (and text encoder); the ControlNet is left as it is
        p.load_lora_weights(lora[0], adapter_name="cn-lora")
        p.set_adapters(["cn-lora"], [lora[1]])
        p.fuse_lora(adapter_names=["cn-lora"])
        p.unload_lora_weights()
    seen = []
    hook = cn.register_forward_hook(lambda mod, a, out: seen.append(out)) if record_residuals else None
    entry, img = record_run(p, seed, (), **BASE, negative_prompt=negative, num_inference_steps=steps, guidance_scale=guidance,
                            image=[T[i] for i in images] if multi else T[images[0]],
                            controlnet_conditioning_scale=list(scale) if multi else scale,
                            control_guidance_start=list(start) if multi else start, control_guidance_end=list(end) if multi else end)
    if hook:
        hook.remove()
        down, mid = seen[0]
        entry["step0Residuals"] = {"down": [b64(d) for d in down], "downShapes": [list(d.shape) for d in down],
                                   "mid": b64(mid), "midShape": list(mid.shape)}
    ref["runs"].append({"name": name, "scheduler": scheduler, "steps": steps, "guidance": guidance, "negativePrompt": negative,
                        "controlnets": ["controlnet"] * len(images), "controlImages": list(images), "conditioningScale": scale,
                        "controlGuidanceStart": start, "controlGuidanceEnd": end, **BASE, **entry})
    print(name, "done", img.shape, float(img.mean()))
    return img


a = run("cn-ddim", "ddim", record_residuals=True)
run("cn-euler-scale0.5-start0.2-end0.8", "euler", scale=0.5, start=0.2, end=0.8)
run("cn-ddim-nocfg", "ddim", guidance=1.0, negative=None, seed=7)
run("multi-ddim", "ddim", images=("edges", "disc"), scale=(0.7, 0.4),
    start=(0.0, 0.25), end=(1.0, 0.75))

# ---------------------------------------------------------------- a LoRA on the UNet together with the ControlNet
# kohya keys (rank 4, alpha 2) on the mid block's transformer; in `loraRuns`, not `runs` (runs are the ControlNet-only references)
g = torch.Generator().manual_seed(13)
LORA_T = ("attn1.to_q", "attn2.to_k", "attn2.to_out.0", "ff.net.2")
lora_entries, tensors = [], {}
for name, mod in unet.named_modules():
    if name.endswith(LORA_T) and isinstance(mod, torch.nn.Linear):
        out_f, in_f = mod.weight.shape
        down, up = torch.randn(4, in_f, generator=g) * 0.6, torch.randn(out_f, 4, generator=g) * 0.6
        key = "lora_unet_" + name.replace(".", "_")
        tensors.update({key + ".lora_down.weight": down, key + ".lora_up.weight": up, key + ".alpha": torch.tensor(2.0)})
        lora_entries.append((name, down, up))
LORA_FILE, LORA_W = f"{OUT}/loras/tiny-sd-controlnet-lora.safetensors", 0.9
os.makedirs(f"{OUT}/loras", exist_ok=True)
save_file({k: v.contiguous() for k, v in tensors.items()}, LORA_FILE)
manual = copy.deepcopy(unet)  # W += w * alpha/rank * up @ down, by hand
with torch.no_grad():
    for name, down, up in lora_entries:
        dict(manual.named_modules())[name].weight += LORA_W * (2.0 / 4) * (up @ down)
cn_state = {k: v.clone() for k, v in cn.state_dict().items()}
manual_img = run("cn-ddim-lora-manual", "ddim", un=manual)
ref["runs"].pop()
lora_img = run("cn-ddim-lora0.9", "ddim", un=copy.deepcopy(unet), lora=(LORA_FILE, LORA_W))
assert all(torch.equal(v, cn.state_dict()[k]) for k, v in cn_state.items()), "loading the LoRA changed the ControlNet"
entry = ref["runs"].pop()
entry.update(loras=[{"file": os.path.basename(LORA_FILE), "weight": LORA_W}], targets=[n for n, _, _ in lora_entries],
             reference="diffusers load_lora_weights + fuse_lora (the ControlNet's weights checked unchanged)",
             psnrVsManualMerge=psnr(lora_img, manual_img), psnrVsControlNetOnly=psnr(lora_img, a))
ref["loraRuns"] = [entry]
print("lora + controlnet: vs manual merge", entry["psnrVsManualMerge"], "dB, vs controlnet only", entry["psnrVsControlNetOnly"], "dB")

# without a ControlNet, for scale: the same UNet, prompt and seed
p = StableDiffusionPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet, scheduler=DDIMScheduler.from_config(CONFIG),
                            safety_checker=None, feature_extractor=None, requires_safety_checker=False)
p.set_progress_bar_config(disable=True)
entry, plain = record_run(p, 42, (), **BASE, negative_prompt="blurry, low quality", num_inference_steps=8, guidance_scale=7.5)
ref["runs"].append({"name": "no-controlnet-ddim", "scheduler": "ddim", "steps": 8, "guidance": 7.5, "negativePrompt": "blurry, low quality",
                    "controlnets": [], **BASE, **entry})
ref["runs"][0]["psnrVsNoControlNet"] = psnr(a, plain)
print("controlnet vs none psnr", ref["runs"][0]["psnrVsNoControlNet"])

write_gz(f"{OUT}/tiny-sd-controlnet-reference.json.gz", ref)
print("wrote", OUT, os.path.getsize(f"{OUT}/tiny-sd-controlnet-reference.json.gz"))
