"""Builds the tiny random SD fixture model and records diffusers' outputs on it.

Runs where torch + diffusers are (the GPU machine's kit: `source .devkit/setup.sh`).
    python3 test/parity/reference/make_tiny_sd.py <out-dir>
Writes <out-dir>/tiny-sd/ (diffusers ONNX layout) and <out-dir>/reference.json.
Everything is seeded; the engine's parity tests replay reference.json against the ONNX folder.
(The parity tests read the JSON gzipped: gzip -9 it into test/fixtures/.)
"""
import json, os, re, sys
import numpy as np
import torch
import diffusers
import transformers
from diffusers import (AutoencoderKL, UNet2DConditionModel, StableDiffusionPipeline,
                       StableDiffusionImg2ImgPipeline, PNDMScheduler, DDIMScheduler,
                       EulerDiscreteScheduler, EulerAncestralDiscreteScheduler,
                       DPMSolverMultistepScheduler, LCMScheduler)
from transformers import CLIPTokenizer
from tiny_sd_models import build_models
from ref_io import b64, jsonable, u16
from sd_export import SD15_SCHEDULER, UNetOnnx, check, export_text_encoder, export_unet, export_vae, write_sd15_folder
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../../training"))
from clip_bpe import save_clip_tokenizer, train_bpe  # the embedded model's tokenizer uses it too

OUT = sys.argv[1]
MODEL = os.path.join(OUT, "tiny-sd")
torch.use_deterministic_algorithms(True)


# ---------------------------------------------------------------- tokenizer
# CLIP's construction: byte-level alphabet, the same with </w>, learned merges, then the specials.
CORPUS = """a photo of an astronaut riding a horse on the moon, highly detailed, sharp focus
a watercolor painting of a cat sitting on a red chair in the garden with flowers and trees
portrait of a young woman with long hair, studio lighting, 85mm lens, bokeh background
a cozy cabin in the snowy mountains at night under the stars and the milky way
an oil painting of a ship in a storm, dramatic clouds, crashing waves, golden hour light
the quick brown fox jumps over the lazy dog while the children are playing in the park
smiling face with heart eyes, grinning cat, thumbs up, party popper, red apple, pizza slice
a futuristic city street with neon lights, rain, reflections, cyberpunk style, wide angle
macro photograph of a bee on a sunflower, shallow depth of field, vivid colors
a bowl of ramen with eggs and green onions on a wooden table, food photography
""" * 3

# the pre-tokenizer the committed fixture was made with (ASCII letter runs): a rebuild gives the same vocab and merges
FIXTURE_PAT = re.compile(r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[a-z]+|[0-9]|[^\sa-z0-9]+""", re.I)

vocab, merges = train_bpe([CORPUS], FIXTURE_PAT, 400)
tok_dir = os.path.join(MODEL, "tokenizer")
save_clip_tokenizer(tok_dir, vocab, merges)
tokenizer = CLIPTokenizer.from_pretrained(tok_dir)

# ---------------------------------------------------------------- models (tiny_sd_models.py)
text_encoder, unet, vae = build_models(vocab)
print("params: te %d unet %d vae %d" % tuple(sum(p.numel() for p in m.parameters()) for m in (text_encoder, unet, vae)))

# ---------------------------------------------------------------- ONNX export (sd_export.py: module-path names kept)
export_text_encoder(text_encoder, f"{MODEL}/text_encoder")
names, args = export_unet(unet, f"{MODEL}/unet")
export_vae(vae, MODEL)
write_sd15_folder(MODEL, diffusers.__version__)  # model_index.json and SD 1.5's scheduler config
print("unet onnx vs torch max abs", check(f"{MODEL}/unet/model.onnx", UNetOnnx(unet), names, args))

# ---------------------------------------------------------------- reference outputs
ref = {"diffusers": diffusers.__version__, "transformers": transformers.__version__, "torch": torch.__version__,
       "tokenizer_class": type(tokenizer).__name__, "noise": [], "tokenizer": [], "runs": []}

for seed, shape in ((0, [1, 4, 8, 12]), (42, [2, 4, 8, 12]), (1234, [1, 4, 5, 7]), (7, [3, 5]), (2**32 + 9, [1, 4, 16, 16])):
    g = torch.Generator("cpu").manual_seed(seed)
    first, second = torch.randn(shape, generator=g), torch.randn(shape, generator=g)
    ref["noise"].append({"seed": seed, "shape": shape, "first": b64(first), "second": b64(second)})

PROMPTS = ["a photo of an astronaut riding a horse", "A Photo Of An ASTRONAUT", "cat, dog; bird! (fish) [tree] {sky}",
           "  lots   of\tspaces \n newlines  ", "naïve café résumé", "东京 タワー 서울", "emoji 😀🐱 party 🎉",
           "it's they're we've I'm you'll he'd", "12345 3.14 1,000,000", "<|startoftext|> hi <|endoftext|>",
           "", "a", "watercolor:1.2 (masterpiece:1.3)", "don't STOP believin'", "snake_case-and-kebab", "ÀÉÎÕÜ ñ ß œ",
           "https://example.com/a?b=c", "#hashtag @mention $100 %50 ^ & *", "quotes \"double\" 'single' `back`",
           "tab\tseparated\tvalues", "ümlaut Über straße", "x" * 30, " ".join(["word"] * 90),
           "Ω≈ç√∫˜µ≤≥÷ math ∑∆", "mixed123abc456 a1b2c3"]
for p in PROMPTS:
    ids = tokenizer(p, padding="max_length", max_length=77, truncation=True).input_ids
    ref["tokenizer"].append({"prompt": p, "ids": ids})

pipe = StableDiffusionPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                               scheduler=PNDMScheduler.from_config(SD15_SCHEDULER), safety_checker=None,
                               feature_extractor=None, requires_safety_checker=False)
pipe.set_progress_bar_config(disable=True)
i2i = StableDiffusionImg2ImgPipeline(**pipe.components)
i2i.set_progress_bar_config(disable=True)
SCHED = {"pndm": (PNDMScheduler, {}), "ddim": (DDIMScheduler, {}), "euler": (EulerDiscreteScheduler, {}),
         "euler-a": (EulerAncestralDiscreteScheduler, {}), "dpmpp-2m": (DPMSolverMultistepScheduler, {}),
         "dpmpp-2m-karras": (DPMSolverMultistepScheduler, {"use_karras_sigmas": True}), "lcm": (LCMScheduler, {})}
rng = np.random.RandomState(3)
init_image = (rng.rand(64, 96, 3) * 0.6 + np.linspace(0, 0.4, 96)[None, :, None]).astype(np.float32)
ref["init_image"] = b64(init_image)

def run(name, scheduler, overrides=None, steps=8, seed=42, guidance=7.5, negative="blurry, low quality",
        batch=1, strength=None, prompt="a photo of an astronaut riding a horse", width=96, height=64):
    cls, extra = SCHED[scheduler]
    cfg = dict(SD15_SCHEDULER, **extra, **(overrides or {}))
    p = i2i if strength is not None else pipe
    p.scheduler = cls.from_config(cfg)
    steps_latents = []
    def cb(pp, i, t, kw):
        steps_latents.append(kw["latents"].detach().clone().numpy())
        return kw
    kwargs = dict(prompt=prompt, negative_prompt=negative, num_inference_steps=steps, guidance_scale=guidance,
                  num_images_per_prompt=batch, generator=torch.Generator("cpu").manual_seed(seed),
                  output_type="np", callback_on_step_end=cb)
    if strength is None:
        kwargs.update(width=width, height=height)
    else:
        kwargs.update(image=torch.from_numpy(init_image).permute(2, 0, 1)[None] * 2 - 1, strength=strength)
    with torch.no_grad():
        img = p(**kwargs).images
    ref["runs"].append({"name": name, "scheduler": scheduler, "schedulerConfig": {k: jsonable(v) for k, v in p.scheduler.config.items()},
                        "overrides": overrides or {}, "steps": steps, "seed": seed, "guidance": guidance,
                        "prompt": prompt, "negativePrompt": negative, "batch": batch, "strength": strength,
                        "width": width if strength is None else 96, "height": height if strength is None else 64,
                        "timesteps": [float(t) for t in p.scheduler.timesteps],
                        "latentShape": list(steps_latents[0].shape),
                        "latents": [b64(l) for l in steps_latents],
                        "imageShape": list(img.shape), "image": u16(img)})
    print(name, "done", img.shape, float(img.mean()))

for s in SCHED:
    run(s, s, steps=4 if s == "lcm" else 8)
run("ddim-vpred-trailing", "ddim", {"prediction_type": "v_prediction", "timestep_spacing": "trailing", "rescale_betas_zero_snr": False})
run("euler-vpred", "euler", {"prediction_type": "v_prediction"})
run("dpmpp-2m-vpred-linspace", "dpmpp-2m", {"prediction_type": "v_prediction", "timestep_spacing": "linspace"})
run("ddim-clip-sample", "ddim", {"clip_sample": True, "set_alpha_to_one": True, "steps_offset": 0})
run("euler-a-batch2", "euler-a", batch=2, seed=7)
run("dpmpp-2m-nocfg-square", "dpmpp-2m", guidance=1.0, negative=None, width=64, height=64, seed=3)
run("pndm-prk", "pndm", {"skip_prk_steps": False}, steps=12)
run("img2img-ddim", "ddim", strength=0.6, steps=10)
run("img2img-euler", "euler", strength=0.5, steps=10)
run("img2img-euler-a", "euler-a", strength=0.75, steps=8)
run("img2img-dpmpp-2m-karras", "dpmpp-2m-karras", strength=0.7, steps=10)
run("img2img-lcm", "lcm", strength=0.8, steps=4)
run("img2img-pndm", "pndm", strength=0.7, steps=10)

# prompt embeddings of the main prompt, for bisecting
ids = tokenizer(["blurry, low quality", "a photo of an astronaut riding a horse"], padding="max_length", max_length=77,
                truncation=True, return_tensors="pt").input_ids
with torch.no_grad():
    ref["promptEmbeds"] = b64(text_encoder(ids)[0].numpy())
json.dump(ref, open(os.path.join(OUT, "reference.json"), "w"))
print("wrote", OUT, os.path.getsize(os.path.join(OUT, "reference.json")))
