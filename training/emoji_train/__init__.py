"""The emoji SD training run, one module per concern; training/emoji_sd.py is its command line.

common (sizes, configs, clock), state (carried state, safetensors, pack), data (dataset, tokens, rows),
models, lora, batches (a stage's GPU-resident data and noise schedule), loop (CUDA-graph train loop),
autoencoder (VAE + latents), classifier, bench (UNet candidates on CPU), unet_stage, style_lora, lcm,
evaluate (pipelines, eval, probe), sweep, sheet, export (ONNX through sd_export.py, CPU timing);
for training/emoji_controlnet.py: onnx_weights (shipped graphs back into torch), canny (as app/canny.ts).
"""
import os, sys

# sd_export.py, the one ONNX export module (the parity fixtures' scripts use it too), imported by path
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "test", "parity", "reference"))
