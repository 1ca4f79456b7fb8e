"""Tiny random SDXL base and refiner in the Optimum ONNX layout, and diffusers' outputs on them.
    python3 test/parity/reference/make_sdxl_refs.py <out-dir> [--only base|refiner]
base: <out-dir>/tiny-sdxl/ (its VAE graphs are links to tiny-sd's, with SDXL's VAE config),
<out-dir>/loras/tiny-sdxl-lora-{kohya,peft}.safetensors and <out-dir>/tiny-sdxl-reference.json.gz.
Runs: txt2img (negative prompt, zeroed negatives, empty negative, explicit size conditioning, batch 2),
img2img, LoRAs in kohya and PEFT keys (te1/te2/unet) through diffusers' load_lora_weights + fuse_lora,
DeepCache (the kit's deepcache_helper.py); the refiner's 5-value time ids.
refiner: <out-dir>/tiny-sdxl-refiner/ (text_encoder_2 alone, requires_aesthetics_score; its encoder, tokenizer
and VAE graphs are links to tiny-sdxl's and tiny-sd's committed files, so only the UNet is new) and
<out-dir>/tiny-sdxl-refiner-reference.json.gz (StableDiffusionXLImg2ImgPipeline runs). README.md beside this file.
"""
import argparse, functools, json, os, shutil, sys, traceback
import numpy as np
import torch
import diffusers
import transformers
from diffusers import (EulerDiscreteScheduler, StableDiffusionXLImg2ImgPipeline, StableDiffusionXLPipeline,
                       UNet2DConditionModel)
from safetensors.torch import save_file
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer
from deepcache_helper import DeepCacheSDHelper
from ref_io import b64, psnr, record_run, write_gz
from sd_export import TextEncoderOnnx, UNetOnnx, VaeDecoderOnnx, check, export_text_encoder, export_unet, write_config, write_model_index
from tiny_sd_models import TINY_SD, build_models

cli = argparse.ArgumentParser()
cli.add_argument("out")
cli.add_argument("--only", choices=("base", "refiner"))
ARGS = cli.parse_args()
OUT = ARGS.out
BASE = os.path.join(OUT, "tiny-sdxl")
REFINER = os.path.join(OUT, "tiny-sdxl-refiner")
COMMITTED_SDXL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "fixtures", "tiny-sdxl")
torch.use_deterministic_algorithms(True)
H, W = 48, 64  # non-square so (height, width) order in the time ids matters
RH, RW = 32, 48  # the refiner's runs: smaller images keep its reference small

# SDXL base's scheduler_config.json (Euler, "leading" spacing, steps_offset 1)
SCHEDULER = {"_class_name": "EulerDiscreteScheduler", "beta_end": 0.012, "beta_schedule": "scaled_linear", "beta_start": 0.00085,
             "clip_sample": False, "interpolation_type": "linear", "num_train_timesteps": 1000, "prediction_type": "epsilon",
             "sample_max_value": 1.0, "set_alpha_to_one": False, "skip_prk_steps": True, "steps_offset": 1,
             "timestep_spacing": "leading", "trained_betas": None, "use_karras_sigmas": False}

# ---------------------------------------------------------------- tokenizers: tiny-sd's vocabulary; tokenizer_2 pads with "!" as SDXL's does
for name, pad in (("tokenizer", None), ("tokenizer_2", "!")):
    d = os.path.join(BASE, name)
    shutil.copytree(os.path.join(TINY_SD, "tokenizer"), d, dirs_exist_ok=True)
    if pad:
        for f in ("tokenizer_config.json", "special_tokens_map.json"):
            cfg = json.load(open(os.path.join(d, f)))
            cfg["pad_token"] = pad
            json.dump(cfg, open(os.path.join(d, f), "w"), indent=2)
tok1, tok2 = CLIPTokenizer.from_pretrained(f"{BASE}/tokenizer"), CLIPTokenizer.from_pretrained(f"{BASE}/tokenizer_2")
vocab = tok1.get_vocab()
print("pad ids", tok1.pad_token_id, tok2.pad_token_id)


# ---------------------------------------------------------------- models
def text_encoders():
    ids = dict(bos_token_id=vocab["<|startoftext|>"], eos_token_id=vocab["<|endoftext|>"], vocab_size=len(vocab), max_position_embeddings=77,
               layer_norm_eps=1e-5, num_hidden_layers=2)
    torch.manual_seed(1)
    te1 = CLIPTextModel(CLIPTextConfig(**ids, pad_token_id=vocab["<|endoftext|>"], hidden_size=8, intermediate_size=16,
                                       num_attention_heads=2, projection_dim=8, hidden_act="quick_gelu")).eval()
    torch.manual_seed(2)  # the second encoder as OpenCLIP-G: gelu, with a projection for the pooled embedding
    te2 = CLIPTextModelWithProjection(CLIPTextConfig(**ids, pad_token_id=0, hidden_size=16, intermediate_size=32,
                                                     num_attention_heads=2, projection_dim=16, hidden_act="gelu")).eval()
    return te1, te2


def base_unet():
    torch.manual_seed(3)
    return UNet2DConditionModel(  # SDXL's shape (3 levels, attention below the first, depth 2 at one) at a graph size that fits
        sample_size=8, in_channels=4, out_channels=4, layers_per_block=1, block_out_channels=(4, 8, 8),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        transformer_layers_per_block=(1, 2, 1), attention_head_dim=(1, 2, 2), use_linear_projection=True,
        cross_attention_dim=24, addition_embed_type="text_time", addition_time_embed_dim=8,
        projection_class_embeddings_input_dim=6 * 8 + 16, norm_num_groups=4).eval()


def refiner_unet():
    torch.manual_seed(4)  # the refiner: text_encoder_2 only (cross-attention 16), time ids with an aesthetic score (5 values)
    return UNet2DConditionModel(  # as SDXL's refiner, DownBlock2D first; a mid block without attention: a transformer is ~47 KB of graph
        sample_size=8, in_channels=4, out_channels=4, layers_per_block=1, block_out_channels=(4, 8),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        mid_block_type="UNetMidBlock2D", attention_head_dim=(2, 2), use_linear_projection=True, cross_attention_dim=16,
        addition_embed_type="text_time", addition_time_embed_dim=8, projection_class_embeddings_input_dim=5 * 8 + 16,
        norm_num_groups=4).eval()


def vae_model():
    """tiny-sd's VAE weights with SDXL's VAE config (scaling factor 0.13025, force_upcast)."""
    vae = build_models(json.load(open(f"{TINY_SD}/tokenizer/vocab.json")))[2]
    vae.register_to_config(scaling_factor=0.13025, force_upcast=True)
    return vae


te1, te2 = text_encoders()
unet, refiner, vae = base_unet(), refiner_unet(), vae_model()
for n, m in (("te1", te1), ("te2", te2), ("unet", unet), ("refiner", refiner), ("vae", vae)):
    print("params", n, sum(p.numel() for p in m.parameters()))

# ---------------------------------------------------------------- shared by both parts
ORT, TOK = ["diffusers", "OnnxRuntimeModel"], ["transformers", "CLIPTokenizer"]  # as tiny-sd's model_index.json
rng = np.random.RandomState(3)
init_image = (rng.rand(H, W, 3) * 0.6 + np.linspace(0, 0.4, W)[None, :, None]).astype(np.float32)
INIT = torch.from_numpy(init_image).permute(2, 0, 1)[None] * 2 - 1
PROMPT, NEG = "a photo of an astronaut riding a horse", "blurry, low quality"


def vae_and_scheduler(root):
    """tiny-sd's VAE graphs as links, with SDXL's VAE config; SDXL's Euler scheduler config. Returns the
    check of the rebuilt VAE against tiny-sd's committed decoder (example latents from the global generator)."""
    z = torch.randn(1, 4, H // 8, W // 8)
    err = check(f"{TINY_SD}/vae_decoder/model.onnx", VaeDecoderOnnx(vae), ["latent_sample"], [z])
    assert err < 1e-4, "rebuilt tiny-sd VAE differs from the committed graph"
    for part in ("vae_decoder", "vae_encoder"):
        os.makedirs(f"{root}/{part}")
        os.symlink(f"../../tiny-sd/{part}/model.onnx", f"{root}/{part}/model.onnx")
        write_config(f"{root}/{part}/config.json", vae.config)
    os.makedirs(f"{root}/scheduler", exist_ok=True)
    json.dump(SCHEDULER, open(f"{root}/scheduler/scheduler_config.json", "w"), indent=2)
    return {"vae_decoder/model.onnx (tiny-sd's)": err}


def pipe_base(te=None, te_2=None, un=None, img2img=False):
    cls = StableDiffusionXLImg2ImgPipeline if img2img else StableDiffusionXLPipeline
    p = cls(vae=vae, text_encoder=te1 if te is None else te, text_encoder_2=te2 if te_2 is None else te_2, tokenizer=tok1,
            tokenizer_2=tok2, unet=unet if un is None else un,
            scheduler=EulerDiscreteScheduler.from_config(SCHEDULER), force_zeros_for_empty_prompt=True, add_watermarker=False)
    p.set_progress_bar_config(disable=True)
    return p


def refiner_pipe():
    p = StableDiffusionXLImg2ImgPipeline(vae=vae, text_encoder=None, text_encoder_2=te2, tokenizer=None, tokenizer_2=tok2, unet=refiner,
                                         scheduler=EulerDiscreteScheduler.from_config(SCHEDULER), requires_aesthetics_score=True,
                                         force_zeros_for_empty_prompt=False, add_watermarker=False)
    p.set_progress_bar_config(disable=True)
    return p


def record(ref, name, p, seed=42, first=("add_time_ids",), **kw):
    """One seeded run of pipe p, appended to ref["runs"] (diffusers' __call__ arguments as the entry's keys)."""
    kw = {"prompt": PROMPT, "num_inference_steps": 6, "guidance_scale": 5.0, **kw}
    if "image" not in kw:
        kw.update(height=H, width=W)
    entry, img = record_run(p, seed, first, **kw)
    params = {k: v for k, v in kw.items() if k != "image"}
    ref["runs"].append({"name": name, **params, "img2img": "image" in kw, **entry})
    print(name, "done", img.shape, float(img.mean()))
    return img


def make_base():
    # ---------------------------------------------------------------- ONNX (Optimum's names: hidden_states.N on both encoders)
    checks = {}
    te_out = {"text_encoder": ["last_hidden_state", "pooler_output", "hidden_states"], "text_encoder_2": ["text_embeds", "last_hidden_state", "hidden_states"]}
    ids = torch.tensor([tok2("a photo of a cat", padding="max_length", max_length=77).input_ids], dtype=torch.int32)
    for name, m in (("text_encoder", te1), ("text_encoder_2", te2)):
        outs = export_text_encoder(m, f"{BASE}/{name}", te_out[name])
        checks[f"{name}/model.onnx"] = check(f"{BASE}/{name}/model.onnx", TextEncoderOnnx(m, te_out[name]), ["input_ids"], [ids])
        print(name, "outputs", outs)
    names, args = export_unet(unet, f"{BASE}/unet", added_cond=True, text_embeds_dim=16, height=H // 8, width=W // 8)
    checks["unet/model.onnx"] = check(f"{BASE}/unet/model.onnx", UNetOnnx(unet, True), names, args)
    print("unet inputs", names)
    checks.update(vae_and_scheduler(BASE))
    write_model_index(BASE, "ORTStableDiffusionXLPipeline", {
        "text_encoder": ORT, "text_encoder_2": ORT, "tokenizer": TOK, "tokenizer_2": TOK,
        "unet": ORT, "vae_decoder": ORT, "vae_encoder": ORT, "scheduler": ["diffusers", "EulerDiscreteScheduler"]},
        diffusers.__version__, force_zeros_for_empty_prompt=True, requires_aesthetics_score=False)

    for k, v in checks.items():
        print(f"onnx vs torch max abs {k}: {v:.3g}")

    # ---------------------------------------------------------------- reference runs
    ref = {"diffusers": diffusers.__version__, "transformers": transformers.__version__, "torch": torch.__version__,
           "width": W, "height": H, "onnxVsTorch": checks, "runs": []}
    ref["init_image"] = b64(init_image)
    run = functools.partial(record, ref)


    plain = run("txt2img", pipe_base(), negative_prompt=NEG, first=("add_time_ids", "prompt_embeds", "add_text_embeds"))
    run("txt2img-zeroed-negative", pipe_base(), negative_prompt=None)  # force_zeros_for_empty_prompt: zero embeds and pooled
    run("txt2img-empty-negative", pipe_base(), negative_prompt="")  # "" is encoded, not zeroed
    run("txt2img-size-conditioning", pipe_base(), negative_prompt=NEG, original_size=(96, 128), crops_coords_top_left=(4, 8),
        target_size=(48, 64), negative_original_size=(24, 32), negative_target_size=(48, 64))
    run("txt2img-batch2-nocfg", pipe_base(), negative_prompt=NEG, num_images_per_prompt=2, guidance_scale=1.0, seed=7)
    run("img2img", pipe_base(img2img=True), negative_prompt=NEG, image=INIT, strength=0.6, num_inference_steps=10)
    run("img2img-zeroed-negative", pipe_base(img2img=True), negative_prompt=None, image=INIT, strength=0.75, num_inference_steps=8, seed=5)

    # ---------------------------------------------------------------- DeepCache on the SDXL UNet (reference helper)
    ref["deepcache"] = []
    for interval, branch in ((3, 0), (2, 3), (3, 6)):
        p = pipe_base()
        helper = DeepCacheSDHelper(pipe=p)
        helper.set_params(cache_interval=interval, cache_branch_id=branch)
        helper.enable()
        try:
            img = run(f"deepcache-N{interval}-b{branch}", p, negative_prompt=NEG)
            ref["runs"][-1].update(deepcache={"interval": interval, "branch": branch, "of": "txt2img"}, psnrVsPlain=psnr(img, plain))
            print("deepcache", interval, branch, "psnr vs plain", ref["runs"][-1]["psnrVsPlain"])
        except Exception:  # noqa: BLE001
            traceback.print_exc(limit=4)
        helper.disable()

    # ---------------------------------------------------------------- LoRAs: te1 / te2 / unet keys, kohya and PEFT
    g = torch.Generator().manual_seed(11)
    UNET_T = ("transformer_blocks.0.attn1.to_q", "transformer_blocks.0.attn2.to_k", "transformer_blocks.0.attn2.to_out.0", "transformer_blocks.1.attn1.to_v")
    TE_T = ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.out_proj", "mlp.fc1")


    def lora_entries(rank):
        entries = []
        for prefix, model, tg in (("unet", unet, UNET_T), ("te1", te1, TE_T), ("te2", te2, TE_T)):
            for name, mod in model.named_modules():
                if name.endswith(tg) and isinstance(mod, torch.nn.Linear):
                    out_f, in_f = mod.weight.shape
                    entries.append((prefix, name, torch.randn(rank, in_f, generator=g) * 0.3, torch.randn(out_f, rank, generator=g) * 0.3))
        return entries


    def te_key(name):
        return name if name.startswith("text_model.") else "text_model." + name  # the files' standard spelling


    LORAS, LOADER = {}, {}
    os.makedirs(f"{OUT}/loras", exist_ok=True)
    os.makedirs(f"{OUT}/loader-copies", exist_ok=True)
    # transformers 5's CLIPTextModel (not ...WithProjection) has no `text_model.` level, so diffusers' loader finds
    # no module for the files' standard te1 keys; it is given copies whose te keys follow the modules (same tensors).
    FLAT = {k: not any(n.startswith("text_model.") for n, _ in m.named_modules()) for k, m in (("te1", te1), ("te2", te2))}
    print("te modules without text_model.:", FLAT)


    def loader_key(k):
        if FLAT["te1"] and k.startswith(("lora_te1_", "text_encoder.")):
            return k.replace("lora_te1_text_model_", "lora_te1_").replace("text_encoder.text_model.", "text_encoder.")
        if FLAT["te2"] and k.startswith(("lora_te2_", "text_encoder_2.")):
            return k.replace("lora_te2_text_model_", "lora_te2_").replace("text_encoder_2.text_model.", "text_encoder_2.")
        return k
    for fmt, rank, alpha in (("kohya", 4, 2.0), ("peft", 2, None)):
        entries, tensors = lora_entries(rank), {}
        for prefix, name, down, up in entries:
            if fmt == "kohya":
                key = ("lora_unet_" + name if prefix == "unet" else f"lora_{prefix}_" + te_key(name)).replace(".", "_")
                tensors.update({key + ".lora_down.weight": down, key + ".lora_up.weight": up, key + ".alpha": torch.tensor(alpha)})
            else:
                key = {"unet": "unet.", "te1": "text_encoder.", "te2": "text_encoder_2."}[prefix] + (name if prefix == "unet" else te_key(name))
                tensors.update({key + ".lora_A.weight": down, key + ".lora_B.weight": up})
        path = f"{OUT}/loras/tiny-sdxl-lora-{fmt}.safetensors"
        save_file({k: v.contiguous() for k, v in tensors.items()}, path)
        LORAS[fmt] = (path, entries, (alpha or rank) / rank)
        LOADER[fmt] = path
        if any(FLAT.values()):
            LOADER[fmt] = f"{OUT}/loader-copies/{os.path.basename(path)}"
            save_file({loader_key(k): v.contiguous() for k, v in tensors.items()}, LOADER[fmt])


    def merged(stack):
        """Fresh copies with W += weight * alpha/rank * up @ down (what fuse_lora computes)."""
        t1, t2 = text_encoders()
        un = base_unet()
        mods = {"unet": dict(un.named_modules()), "te1": dict(t1.named_modules()), "te2": dict(t2.named_modules())}
        with torch.no_grad():
            for fmt, w in stack:
                _, entries, scale = LORAS[fmt]
                for prefix, name, down, up in entries:
                    mods[prefix][name].weight += w * scale * (up @ down)
        return t1, t2, un


    ref["lora"] = []
    for stack in ([("kohya", 0.8)], [("peft", 0.7)], [("kohya", 0.8), ("peft", 0.5)]):
        label = "+".join(f"{f}{w}" for f, w in stack)
        t1, t2, un = merged(stack)
        manual = run(f"lora-manual-{label}", pipe_base(t1, t2, un), negative_prompt=NEG)
        manual_entry = ref["runs"].pop()
        entry = {"name": f"lora-{label}", "stack": [{"file": os.path.basename(LORAS[f][0]), "weight": w} for f, w in stack]}
        try:
            t1, t2 = text_encoders()
            p = pipe_base(t1, t2, base_unet())
            for f, _ in stack:
                p.load_lora_weights(LOADER[f], adapter_name=f)
            p.set_adapters([f for f, _ in stack], [w for _, w in stack])
            p.fuse_lora(adapter_names=[f for f, _ in stack])
            p.unload_lora_weights()
            img = run(f"lora-{label}", p, negative_prompt=NEG)
            how = "diffusers load_lora_weights + fuse_lora" + (" (te1 keys without text_model., as transformers 5 names CLIPTextModel's modules)" if FLAT["te1"] else "")
            ref["runs"][-1].update(loras=entry["stack"], reference=how,
                                   psnrVsManualMerge=psnr(img, manual), psnrVsPlain=psnr(img, plain))
            print("lora", label, "diffusers vs manual merge psnr", ref["runs"][-1]["psnrVsManualMerge"])
        except Exception as e:  # noqa: BLE001
            traceback.print_exc(limit=6)
            print("te module names:", [n for n, _ in text_encoders()[0].named_modules()][:6])
            manual_entry.update(name=f"lora-{label}", loras=entry["stack"], psnrVsPlain=psnr(manual, plain),
                                reference=f"manual merge (diffusers' loader failed: {type(e).__name__}: {e})"[:300])
            ref["runs"].append(manual_entry)

    # ---------------------------------------------------------------- refiner (requires_aesthetics_score): 5-value time ids
    rp = refiner_pipe()
    ref["refinerTimeIds"] = []
    for orig, crop, target, aes, neg_aes, neg_orig, neg_crop, neg_target in (
            ((48, 64), (0, 0), (48, 64), 6.0, 2.5, (48, 64), (0, 0), (48, 64)),
            ((1024, 768), (16, 32), (48, 64), 7.5, 1.0, (512, 384), (0, 0), (48, 64))):
        pos, neg = rp._get_add_time_ids(orig, crop, target, aes, neg_aes, neg_orig, neg_crop, neg_target, torch.float32, 16)
        ref["refinerTimeIds"].append({"original_size": orig, "crops_coords_top_left": crop, "target_size": target, "aesthetic_score": aes,
                                      "negative_aesthetic_score": neg_aes, "negative_original_size": neg_orig,
                                      "negative_crops_coords_top_left": neg_crop, "negative_target_size": neg_target,
                                      "add_time_ids": pos[0].tolist(), "add_neg_time_ids": neg[0].tolist()})
    print("refiner time ids", ref["refinerTimeIds"])

    write_gz(f"{OUT}/tiny-sdxl-reference.json.gz", ref)
    print("wrote", OUT, os.path.getsize(f"{OUT}/tiny-sdxl-reference.json.gz"))


def make_refiner():
    """The refiner folder (Optimum's ORTStableDiffusionXLImg2ImgPipeline layout, as stabilityai's refiner: no text_encoder,
    requires_aesthetics_score, force_zeros_for_empty_prompt false) and StableDiffusionXLImg2ImgPipeline runs on it."""
    torch.manual_seed(0)  # the checks' example feeds: the same whether the base part ran first or not
    checks = {}
    te2_dir = f"{REFINER}/text_encoder_2"  # the base's second encoder and tokenizer: links to tiny-sdxl's committed files
    os.makedirs(te2_dir)
    os.symlink("../../tiny-sdxl/text_encoder_2/model.onnx", f"{te2_dir}/model.onnx")
    te2.config.to_json_file(f"{te2_dir}/config.json")
    te_out = ["text_embeds", "last_hidden_state", "hidden_states"]
    ids = torch.tensor([tok2("a photo of a cat", padding="max_length", max_length=77).input_ids], dtype=torch.int32)
    checks["text_encoder_2/model.onnx (tiny-sdxl's)"] = check(f"{COMMITTED_SDXL}/text_encoder_2/model.onnx", TextEncoderOnnx(te2, te_out), ["input_ids"], [ids])
    assert checks["text_encoder_2/model.onnx (tiny-sdxl's)"] < 1e-4, "rebuilt text_encoder_2 differs from tiny-sdxl's committed graph"
    os.makedirs(f"{REFINER}/tokenizer_2")
    for f in sorted(os.listdir(f"{BASE}/tokenizer_2")):
        assert open(f"{BASE}/tokenizer_2/{f}", "rb").read() == open(f"{COMMITTED_SDXL}/tokenizer_2/{f}", "rb").read(), f"tokenizer_2/{f} differs from tiny-sdxl's"
        os.symlink(f"../../tiny-sdxl/tokenizer_2/{f}", f"{REFINER}/tokenizer_2/{f}")
    names, args = export_unet(refiner, f"{REFINER}/unet", added_cond=True, text_embeds_dim=16, height=RH // 8, width=RW // 8)
    checks["unet/model.onnx"] = check(f"{REFINER}/unet/model.onnx", UNetOnnx(refiner, True), names, args)
    print("refiner unet inputs", names, "time_ids", [a.shape for a in args][-1])
    checks.update(vae_and_scheduler(REFINER))
    write_model_index(REFINER, "ORTStableDiffusionXLImg2ImgPipeline", {
        "text_encoder": [None, None], "text_encoder_2": ORT, "tokenizer": [None, None], "tokenizer_2": TOK,
        "unet": ORT, "vae_decoder": ORT, "vae_encoder": ORT, "scheduler": ["diffusers", "EulerDiscreteScheduler"]},
        diffusers.__version__, force_zeros_for_empty_prompt=False, requires_aesthetics_score=True)
    for k, v in checks.items():
        print(f"onnx vs torch max abs refiner {k}: {v:.3g}")

    # the init image: tiny-sdxl-reference's init_image, its top-left RH x RW (the fixture stays small; not stored twice)
    ref = {"diffusers": diffusers.__version__, "transformers": transformers.__version__, "torch": torch.__version__,
           "width": RW, "height": RH, "onnxVsTorch": checks, "initImage": f"tiny-sdxl-reference.json.gz init_image[:{RH}, :{RW}]", "runs": []}
    image = INIT[:, :, :RH, :RW].contiguous()
    run = functools.partial(record, ref, image=image)
    # the refiner's usual job: a low strength over an image (default aesthetic scores 6 / 2.5)
    run("refiner", refiner_pipe(), negative_prompt=NEG, strength=0.3, num_inference_steps=10, first=("add_time_ids", "prompt_embeds", "add_text_embeds"))
    run("refiner-aesthetic-size-no-negative", refiner_pipe(), negative_prompt=None, strength=0.5, num_inference_steps=8,  # "" encoded: no forced zeros
        aesthetic_score=7.5, negative_aesthetic_score=1.0, original_size=(96, 128), crops_coords_top_left=(4, 8),
        negative_original_size=(24, 32), seed=3)
    run("refiner-batch2-nocfg", refiner_pipe(), negative_prompt=None, strength=0.4, num_inference_steps=10,
        guidance_scale=1.0, num_images_per_prompt=2, seed=7)
    write_gz(f"{OUT}/tiny-sdxl-refiner-reference.json.gz", ref)
    print("wrote", OUT, os.path.getsize(f"{OUT}/tiny-sdxl-refiner-reference.json.gz"))


if ARGS.only != "refiner":
    make_base()
if ARGS.only != "base":
    make_refiner()
