"""Captions shared by the tokenizer builder (CPU machine) and the training scripts (GPU machine)."""
import json

STYLE_WORDS = {"twemoji": "twemoji style", "noto": "noto style", "fluent": "fluent style",
               "openmoji": "openmoji style", "pixel": "pixel art style"}
BASE_STYLES = ("twemoji", "noto", "fluent")  # base model; openmoji -> LoRA 1, pixel -> LoRA 2


def variants(concept, style):
    """K=4 captions per image; training samples one at random (prompt-format robustness)."""
    label, sw = concept["label"], STYLE_WORDS[style]
    words = set(label.replace(":", " ").replace(",", " ").split())
    tags = [t for t in concept.get("tags", []) if t not in words][:2]
    v3 = f"{label}, {', '.join(tags)}, {sw}" if tags else f"{label} emoji, {sw}"
    return [f"{label}, {sw}", label, f"a {label} emoji in {sw}", v3]


def load_index(path):
    with open(path) as f:
        return json.load(f)
