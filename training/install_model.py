"""Installs a finished training state into the model folder (run here, on the CPU machine):
ONNX graphs and configs, the three LoRAs, and report.json (eval, sweep, training counters).
    python3 training/install_model.py [.train-carry/state] [assets/models/emoji-sd]
The contact sheet is made afterwards by the engine: npx tsx training/contact-sheet.ts
"""
import json, os, shutil, sys

state = sys.argv[1] if len(sys.argv) > 1 else ".train-carry/state"
dest = sys.argv[2] if len(sys.argv) > 2 else "assets/models/emoji-sd"
for part in ("text_encoder", "unet", "vae_decoder", "vae_encoder"):
    shutil.copytree(os.path.join(state, "model", part), os.path.join(dest, part), dirs_exist_ok=True)
for src, name in (("lora_openmoji", "openmoji-style"), ("lora_pixel", "pixel-art-style"), ("lcm_lora", "lcm-lora")):
    shutil.copy(os.path.join(state, f"{src}.safetensors"), os.path.join(dest, "loras", f"{name}.safetensors"))
meta = json.load(open(os.path.join(state, "meta.json")))
for k in ("gen", "done"):
    meta.pop(k, None)
report = {"eval": json.load(open(os.path.join(state, "eval.json")))}
if os.path.exists(os.path.join(state, "sweep.json")):
    report["sweep"] = json.load(open(os.path.join(state, "sweep.json")))
report["training"] = meta
with open(os.path.join(dest, "report.json"), "w") as f:
    json.dump(report, f, indent=1)
print(f"installed {state} -> {dest}")
