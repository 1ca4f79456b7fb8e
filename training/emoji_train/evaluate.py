"""Evaluation: diffusers pipelines on the trained parts, images classified by the evaluation classifier."""
import json, os, time
import torch
from captions import BASE_STYLES, STYLE_WORDS
from sd_export import SD15_SCHEDULER
from .classifier import classify
from .common import SIZE, STYLE_LORAS, STYLES, log
from .lora import fuse_lora
from .state import load_sd


def make_pipe(vae, te, tok, unet, sched="pndm"):
    from diffusers import StableDiffusionPipeline, PNDMScheduler, LCMScheduler
    s = (LCMScheduler if sched == "lcm" else PNDMScheduler).from_config(SD15_SCHEDULER)
    p = StableDiffusionPipeline(vae=vae, text_encoder=te, tokenizer=tok, unet=unet, scheduler=s, safety_checker=None,
                                feature_extractor=None, requires_safety_checker=False)
    p.set_progress_bar_config(disable=True)
    return p


def lora_pipe(st, vae, te, tok, unet, name, scale=1.0, sched="pndm"):
    """make_pipe on a copy of unet with the state's LoRA `name` merged in at `scale`."""
    return make_pipe(vae, te, tok, fuse_lora(unet, load_sd(st.p(f"{name}.safetensors")), scale), sched)


def split_concepts(concepts):
    """(training concept indices, held-out concept indices)."""
    return ([i for i, c in enumerate(concepts) if not c["heldout"]], [i for i, c in enumerate(concepts) if c["heldout"]])


@torch.no_grad()
def generate(pipe, prompts, steps, guidance, seed, chunk=256):
    out = []
    for i in range(0, len(prompts), chunk):
        g = torch.Generator("cuda").manual_seed(seed + i)
        im = pipe(prompts[i:i + chunk], num_inference_steps=steps, guidance_scale=guidance, height=SIZE, width=SIZE,
                  generator=g, output_type="pt").images
        out.append(im.float().clamp(0, 1))
    return torch.cat(out)


def eval_prompts(pipe, clf, concepts, cids, style_of, steps, guidance, seed, want_style=None):
    """Generates one image per concept ("<label>, <style> style") and classifies it."""
    prompts = [f"{concepts[c]['label']}, {STYLE_WORDS[style_of(j)]}" for j, c in enumerate(cids)]
    t = time.time()
    x = generate(pipe, prompts, steps, guidance, seed)
    yc = torch.tensor(cids).cuda()
    ys = torch.tensor([STYLES.index(style_of(j)) for j in range(len(cids))]).cuda()
    r = classify(clf, x, yc, ys, None if want_style is None else torch.full_like(ys, STYLES.index(want_style)))
    r["gen_seconds"] = round(time.time() - t, 1)
    return r


def cycle_base(j):
    return BASE_STYLES[j % 3]


def probe(st, vae, tok, te, unet, clf, concepts, n):
    """Progress check between UNet calls: base model on the first n training concepts (as stage_eval)."""
    train_c = split_concepts(concepts)[0][:n]
    r = eval_prompts(make_pipe(vae, te, tok, unet), clf, concepts, train_c, cycle_base, 25, 7.5, 100)
    r["unet_steps"] = st.meta.get("unet_steps")
    st.save(None, probes=st.meta.get("probes", []) + [r])
    log("probe", r)


def stage_eval(st, vae, tok, te, unet, clf, concepts, limit=None):
    res = {"method": "generated image -> classifier trained on all real renders (4 sets + pixel variants, augmented,"
                     " half VAE reconstructions); top-k over all concepts; one image per concept, seed fixed"}
    train_c, held_c = split_concepts(concepts)
    if limit:
        train_c, held_c = train_c[:limit], held_c[:max(8, limit // 4)]
    base = make_pipe(vae, te, tok, unet)
    run = lambda pipe, cids, style_of, steps, guidance, seed, want_style=None: eval_prompts(  # noqa: E731
        pipe, clf, concepts, cids, style_of, steps, guidance, seed, want_style)
    res["base_train_25steps_cfg7.5"] = run(base, train_c, cycle_base, 25, 7.5, 100)
    log("eval base train", res["base_train_25steps_cfg7.5"])
    res["base_heldout_25steps_cfg7.5"] = run(base, held_c, cycle_base, 25, 7.5, 200)
    log("eval base held-out", res["base_heldout_25steps_cfg7.5"])
    sub = train_c[:300]
    for name, style in STYLE_LORAS:
        if not os.path.exists(st.p(f"{name}.safetensors")):
            continue
        lp = lora_pipe(st, vae, te, tok, unet, name)
        res[f"{name}_25steps"] = run(lp, sub, lambda j: style, 25, 7.5, 300, want_style=style)
        res[f"{name}_base_same_prompts"] = run(base, sub, lambda j: style, 25, 7.5, 300, want_style=style)
        log("eval", name, res[f"{name}_25steps"], "base:", res[f"{name}_base_same_prompts"])
        del lp
    if os.path.exists(st.p("lcm_lora.safetensors")):
        lcm = lora_pipe(st, vae, te, tok, unet, "lcm_lora", sched="lcm")
        res["lcm_train_4steps_cfg1"] = run(lcm, train_c, cycle_base, 4, 1.0, 100)
        res["lcm_heldout_4steps_cfg1"] = run(lcm, held_c, cycle_base, 4, 1.0, 200)
        res["base_train_4steps_cfg7.5_no_lcm"] = run(base, train_c, cycle_base, 4, 7.5, 100)
        log("eval lcm", res["lcm_train_4steps_cfg1"], "base@4:", res["base_train_4steps_cfg7.5_no_lcm"])
    json.dump(res, open(st.p("eval.json"), "w"), indent=1)
    st.save("eval")
    return res
