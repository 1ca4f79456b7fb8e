"""The guidance (and LoRA weight) sweep behind the README's recommended settings."""
import json
from .common import STYLE_LORAS, log
from .evaluate import cycle_base, eval_prompts, lora_pipe, make_pipe, split_concepts


def stage_sweep(st, vae, tok, te, unet, clf, concepts):
    """Guidance (and LoRA weight) sweep on the same prompts and seeds as stage_eval, so the README can
    state the setting each part is best used at next to the SD default (PNDM 25 steps, CFG 7.5)."""
    train_c, held_c = split_concepts(concepts)
    res, path = {}, st.p("sweep.json")

    def put(k, r):
        res[k] = r; log("sweep", k, r); json.dump(res, open(path, "w"), indent=1)
    base = make_pipe(vae, te, tok, unet)
    for g in (2.0, 3.0, 4.0, 5.0):
        put(f"base_train_25steps_cfg{g}", eval_prompts(base, clf, concepts, train_c, cycle_base, 25, g, 100))
        put(f"base_heldout_25steps_cfg{g}", eval_prompts(base, clf, concepts, held_c, cycle_base, 25, g, 200))
    sub = train_c[:300]
    for name, style in STYLE_LORAS:
        for g in (3.0, 5.0):
            put(f"{name}_base_same_prompts_cfg{g}", eval_prompts(base, clf, concepts, sub, lambda j: style, 25, g, 300,
                                                                  want_style=style))
        for w in (1.0, 1.25, 1.5):
            lp = lora_pipe(st, vae, te, tok, unet, name, w)
            for g in (3.0, 5.0, 7.5):
                put(f"{name}_w{w}_cfg{g}", eval_prompts(lp, clf, concepts, sub, lambda j: style, 25, g, 300, want_style=style))
    st.save("sweep")
