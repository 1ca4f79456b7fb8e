"""The diffusers contact sheet (a cross-check; the shipped sheet is made by the engine, training/contact-sheet.ts)."""
import os
import numpy as np
import torch
from captions import BASE_STYLES, STYLE_WORDS
from .common import SIZE, STYLE_LORAS, log
from .evaluate import generate, lora_pipe, make_pipe


@torch.no_grad()
def contact_sheet(st, vae, tok, te, unet, concepts, path):
    from PIL import Image, ImageDraw
    want = ["grinning face", "red apple", "cat face", "pizza", "rocket", "house", "sun", "red heart", "dog face",
            "birthday cake", "soccer ball", "guitar", "hot beverage", "tulip", "snowman", "automobile"]
    by_label = {c["label"]: i for i, c in enumerate(concepts)}
    chosen = [by_label[w] for w in want if w in by_label]
    held = [i for i, c in enumerate(concepts) if c["heldout"]]
    chosen = chosen[:12] + held[:16 - min(12, len(chosen))]
    labels = [concepts[i]["label"] + (" (held out)" if concepts[i]["heldout"] else "") for i in chosen]
    base = make_pipe(vae, te, tok, unet)
    cols = [("base 25 steps", base, [f"{concepts[i]['label']}, {STYLE_WORDS[BASE_STYLES[j % 3]]}" for j, i in enumerate(chosen)], 25, 7.5)]
    for (name, style), title in zip(STYLE_LORAS, ("LoRA 1 openmoji", "LoRA 2 pixel art")):
        if os.path.exists(st.p(f"{name}.safetensors")):
            cols.append((title, lora_pipe(st, vae, te, tok, unet, name),
                         [f"{concepts[i]['label']}, {STYLE_WORDS[style]}" for i in chosen], 25, 7.5))
    if os.path.exists(st.p("lcm_lora.safetensors")):
        cols.append(("LCM-LoRA 4 steps", lora_pipe(st, vae, te, tok, unet, "lcm_lora", sched="lcm"), cols[0][2], 4, 1.0))
    imgs = [generate(p, pr, s, g, 7) for _, p, pr, s, g in cols]
    W, L, H = SIZE, 190, 18
    sheet = Image.new("RGB", (L + W * len(cols), H + W * len(chosen)), "white")
    d = ImageDraw.Draw(sheet)
    for c, (title, *_r) in enumerate(cols):
        d.text((L + c * W + 4, 3), title, fill="black")
    for r, lab in enumerate(labels):
        d.text((4, H + r * W + W // 2 - 6), lab[:30], fill="black")
        for c in range(len(cols)):
            a = (imgs[c][r].permute(1, 2, 0).cpu().numpy() * 255).round().astype(np.uint8)
            sheet.paste(Image.fromarray(a), (L + c * W, H + r * W))
    sheet.save(path, optimize=True)
    for f in (1.0, 0.85, 0.7, 0.55):  # keep it under 500 KB
        if os.path.getsize(path) <= 490_000:
            break
        s2 = sheet.resize((round(sheet.width * f), round(sheet.height * f)), Image.LANCZOS) if f < 1 else sheet
        s2.quantize(256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
    log(f"contact sheet {os.path.getsize(path)/1e3:.0f} KB, {len(chosen)} prompts x {len(cols)}")
