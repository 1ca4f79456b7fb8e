"""Reference outputs for the accelerations on the tiny fixture model: DeepCache (the kit's
deepcache_helper.py on diffusers) and LoRA merges, on the same weights and noise as the engine.
    python3 test/parity/reference/make_accel_refs.py <out-dir> [<fixture model dir>]
Writes <out-dir>/accel-reference.json (gzip it to test/fixtures/tiny-sd-accel-reference.json.gz) and the LoRA files it used (kohya and diffusers/PEFT keys).
(The parity tests read the JSON gzipped: gzip -9 it into test/fixtures/.)
"""
import base64, json, os, sys
import numpy as np
import torch
import diffusers
from diffusers import DDIMScheduler, EulerDiscreteScheduler, StableDiffusionPipeline, StableDiffusionImg2ImgPipeline
from safetensors.torch import save_file
from transformers import CLIPTokenizer
from tiny_sd_models import build_models
from deepcache_helper import DeepCacheSDHelper
from ref_io import psnr, u16

OUT = sys.argv[1]
ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures")
FIXTURE = sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "tiny-sd")
os.makedirs(OUT, exist_ok=True)
torch.use_deterministic_algorithms(True)


tokenizer = CLIPTokenizer.from_pretrained(os.path.join(FIXTURE, "tokenizer"))
vocab = json.load(open(os.path.join(FIXTURE, "tokenizer", "vocab.json")))
text_encoder, unet, vae = build_models(vocab)

# same weights as the committed ONNX?
import onnxruntime as ort
s = ort.InferenceSession(os.path.join(FIXTURE, "unet", "model.onnx"), providers=["CPUExecutionProvider"])
x, ehs = torch.randn(2, 4, 8, 12), torch.randn(2, 77, 32)
with torch.no_grad():
    want = unet(x, torch.tensor([500.0]), ehs)[0].numpy()
got = s.run(None, {"sample": x.numpy(), "timestep": np.array([500.0], np.float32), "encoder_hidden_states": ehs.numpy()})[0]
weights_match = float(np.abs(want - got).max())
print("rebuilt unet vs committed onnx: max abs", weights_match)
assert weights_match < 1e-4, "rebuilt weights differ from the committed fixture"

CONFIG = json.load(open(os.path.join(FIXTURE, "scheduler", "scheduler_config.json")))
ref = {"diffusers": diffusers.__version__, "torch": torch.__version__, "deepcache": [], "lora": []}
BASE = dict(prompt="a photo of an astronaut riding a horse", negative_prompt="blurry, low quality", guidance_scale=7.5,
            output_type="np")


def make_pipe(cls=StableDiffusionPipeline, sched=DDIMScheduler, te=text_encoder, un=unet):
    p = cls(vae=vae, text_encoder=te, tokenizer=tokenizer, unet=un, scheduler=sched.from_config(CONFIG),
            safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    p.set_progress_bar_config(disable=True)
    return p


rng = np.random.RandomState(3)
init_image = (rng.rand(64, 96, 3) * 0.6 + np.linspace(0, 0.4, 96)[None, :, None]).astype(np.float32)
ref["init_image"] = base64.b64encode(init_image.tobytes()).decode()


def run(p, steps, seed=42, strength=None):
    kw = dict(BASE, num_inference_steps=steps, generator=torch.Generator("cpu").manual_seed(seed))
    if strength is None:
        kw.update(width=96, height=64)
    else:
        kw.update(image=torch.from_numpy(init_image).permute(2, 0, 1)[None] * 2 - 1, strength=strength)
    with torch.no_grad():
        return p(**kw).images


# ---------------------------------------------------------------- DeepCache (reference helper)
for scheduler, sched_cls, strength, steps, cases in (
        ("ddim", DDIMScheduler, None, 10, [(1, 0), (2, 0), (3, 0), (5, 0), (2, 3), (3, 3), (5, 3), (3, 5)]),
        ("euler", EulerDiscreteScheduler, None, 10, [(3, 0)]),
        ("ddim", DDIMScheduler, 0.6, 10, [(2, 0), (3, 3)])):
    pipe = make_pipe(StableDiffusionImg2ImgPipeline if strength else StableDiffusionPipeline, sched_cls)
    plain = run(pipe, steps, strength=strength)
    for interval, branch in cases:
        helper = DeepCacheSDHelper(pipe=pipe)
        helper.set_params(cache_interval=interval, cache_branch_id=branch)
        helper.enable()
        img = run(pipe, steps, strength=strength)
        helper.disable()
        psnr_db = psnr(img, plain)
        print(f"deepcache {scheduler} strength={strength} N={interval} b={branch}: psnr vs plain {psnr_db:.2f}")
        key = f"{scheduler}-{strength}"  # the plain image once per case family
        ref.setdefault("plains", {})[key] = u16(plain)
        ref["deepcache"].append({"scheduler": scheduler, "strength": strength, "steps": steps, "interval": interval,
                                 "branch": branch, "image": u16(img), "plain": key, "psnrVsPlain": psnr_db})

# ---------------------------------------------------------------- LoRA
g = torch.Generator().manual_seed(11)


def lora_pair(weight, rank):
    out_f, in_f = weight.shape[:2]
    k = weight.shape[2:] if weight.ndim == 4 else ()
    down = torch.randn((rank, in_f, *k), generator=g) * 0.3
    up = torch.randn((out_f, rank, *((1, 1) if k else ())), generator=g) * 0.3
    return down, up


def targets(model, suffixes):
    return {n: m for n, m in model.named_modules() if any(n.endswith(s) for s in suffixes) and hasattr(m, "weight")}


UNET_T = ["attn1.to_q", "attn1.to_v", "attn2.to_k", "attn2.to_out.0", "proj_in", "resnets.0.conv1"]
TE_T = ["self_attn.q_proj", "self_attn.v_proj"]
loras = {}
for name, rank, alpha in (("kohya", 4, 2.0), ("peft", 2, None)):
    entries = []
    for prefix, model, tg in (("unet", unet, UNET_T), ("te", text_encoder, TE_T)):
        for mod_name, mod in targets(model, tg).items():
            if name == "peft" and ("conv1" in mod_name or "proj_in" in mod_name):
                continue  # the PEFT LoRA covers linear layers only
            down, up = lora_pair(mod.weight, rank)
            entries.append((prefix, mod_name, down, up))
    tensors = {}
    for prefix, mod_name, down, up in entries:
        te_name = mod_name if mod_name.startswith("text_model.") else "text_model." + mod_name
        if name == "kohya":
            key = ("lora_unet_" + mod_name if prefix == "unet" else "lora_te_" + te_name).replace(".", "_")
            tensors[key + ".lora_down.weight"] = down.contiguous()
            tensors[key + ".lora_up.weight"] = up.contiguous()
            tensors[key + ".alpha"] = torch.tensor(alpha)
        else:
            key = ("unet." + mod_name) if prefix == "unet" else ("text_encoder." + te_name)
            tensors[key + ".lora_A.weight"] = down.reshape(down.shape[0], -1).contiguous()
            tensors[key + ".lora_B.weight"] = up.reshape(up.shape[0], -1).contiguous()
    path = os.path.join(OUT, f"tiny-lora-{name}.safetensors")
    save_file(tensors, path)
    loras[name] = (entries, alpha if alpha is not None else rank, rank)


def merged(stack):
    """Copies of the text encoder and UNet with W += w * alpha/rank * up @ down (what fuse_lora computes)."""
    te, un, _ = build_models(vocab)
    mods = {"unet": dict(un.named_modules()), "te": dict(te.named_modules())}
    with torch.no_grad():
        for name, w in stack:
            entries, alpha, rank = loras[name]
            for prefix, mod_name, down, up in entries:
                W = mods[prefix][mod_name].weight
                delta = torch.einsum("or,rihw->oihw", up[:, :, 0, 0], down) if W.ndim == 4 else up @ down
                W += w * (alpha / rank) * delta.reshape(W.shape)
    return te, un


for stack in ([("kohya", 0.8)], [("peft", 1.0)], [("kohya", 0.8), ("peft", 0.5)]):
    te, un = merged(stack)
    img = run(make_pipe(te=te, un=un), 8)
    plain = run(make_pipe(), 8)
    entry = {"stack": [{"file": f"tiny-lora-{n}.safetensors", "weight": w} for n, w in stack], "steps": 8, "scheduler": "ddim",
             "image": u16(img), "psnrVsPlain": psnr(img, plain)}
    try:  # diffusers' own loader where peft is installed
        import peft  # noqa: F401
        p = make_pipe(te=build_models(vocab)[0], un=build_models(vocab)[1])
        for n, w in stack:
            p.load_lora_weights(os.path.join(OUT, f"tiny-lora-{n}.safetensors"), adapter_name=n)
        p.set_adapters([n for n, _ in stack], [w for _, w in stack])
        p.fuse_lora()
        dimg = run(p, 8)
        entry["diffusersFusePsnr"] = psnr(dimg, img)
    except Exception as e:  # noqa: BLE001
        entry["diffusersFuse"] = f"not run: {type(e).__name__}: {e}"[:300]
    print("lora", stack, "psnr vs plain", entry["psnrVsPlain"], entry.get("diffusersFusePsnr", entry.get("diffusersFuse")))
    ref["lora"].append(entry)

json.dump(ref, open(os.path.join(OUT, "accel-reference.json"), "w"))
print("wrote", OUT)
