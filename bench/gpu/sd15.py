"""An SD1.5-architecture pipeline with random weights, for the GPU benchmark (no hub: configs written out).

    python3 bench/gpu/sd15.py export <dir>     # <dir>/sd15-fp32 and <dir>/sd15-fp16, diffusers ONNX layout

Every component is built from its own seed, so any process rebuilds the same weights (the torch bench
times these modules; the engine runs their ONNX export). Export: torch.onnx.export(..., dynamo=False),
which keeps module-path node names (/m/up_blocks.3/attentions.1/...) that DeepCache cuts by; weights as
external data (model.onnx_data), so a graph rewrite reads a few MB of graph, not GBs.
"""
import json, os, shutil, subprocess, sys, time

import torch
from diffusers import AutoencoderKL, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.dont_write_bytecode = True  # no __pycache__ left in the checkout
sys.path.insert(0, os.path.join(ROOT, "test", "parity", "reference"))
import sd_export  # noqa: E402  the project's one ONNX export module (wrappers, folder files)
# a CLIP BPE tokenizer the repo ships (ids < SD1.5's 49408-token vocabulary); only ids reach the models
TOKENIZER = os.path.join(ROOT, "assets", "models", "emoji-sd", "tokenizer")

# runwayml/stable-diffusion-v1-5's component configs, as its config.json files give them
UNET = dict(sample_size=64, in_channels=4, out_channels=4, layers_per_block=2, block_out_channels=(320, 640, 1280, 1280),
            down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
            up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
            cross_attention_dim=768, attention_head_dim=8, norm_num_groups=32, norm_eps=1e-5, act_fn="silu",
            center_input_sample=False, downsample_padding=1, flip_sin_to_cos=True, freq_shift=0, mid_block_scale_factor=1)
VAE = dict(in_channels=3, out_channels=3, down_block_types=["DownEncoderBlock2D"] * 4, up_block_types=["UpDecoderBlock2D"] * 4,
           block_out_channels=[128, 256, 512, 512], layers_per_block=2, latent_channels=4, norm_num_groups=32,
           sample_size=512, act_fn="silu")
TEXT = dict(vocab_size=49408, hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
            max_position_embeddings=77, hidden_act="quick_gelu", projection_dim=768, layer_norm_eps=1e-5)
# SD1.5's scheduler config with DDIM, the benchmark's sampler
SCHEDULER = {**sd_export.SD15_SCHEDULER, "_class_name": "DDIMScheduler"}


def tokenizer():
    return CLIPTokenizer.from_pretrained(TOKENIZER)


def build(part):
    """One component with random weights from its own seed (same weights in every process)."""
    torch.manual_seed({"text_encoder": 1, "unet": 2, "vae": 3}[part])
    if part == "unet":
        return UNet2DConditionModel(**UNET).eval()
    if part == "vae":
        return AutoencoderKL(**VAE).eval()
    tok = tokenizer()
    ids = dict(bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    return CLIPTextModel(CLIPTextConfig(**TEXT, **ids)).eval()


def export(module, args, path, inputs, outputs, axes):
    """sd_export's export, then every weight in one model.onnx_data beside the graph."""
    import onnx
    tmp = path + ".parts"  # the exporter writes one file per tensor past 2 GB; gather them after
    shutil.rmtree(tmp, ignore_errors=True)
    sd_export.export(module, args, os.path.join(tmp, "model.onnx"), inputs, outputs, axes)
    onnx.save_model(onnx.load(os.path.join(tmp, "model.onnx")), path, save_as_external_data=True,
                    all_tensors_to_one_file=True, location="model.onnx_data", size_threshold=1024)
    shutil.rmtree(tmp)


def export_part(part, precision, model_dir):
    """One component of one folder (run as its own process so the four exports go in parallel)."""
    dtype = torch.float16 if precision == "fp16" else torch.float32
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    t0 = time.perf_counter()
    m = build(part).to(dev, dtype)
    os.makedirs(os.path.join(model_dir, {"vae": "vae_decoder"}.get(part, part)), exist_ok=True)
    with torch.no_grad():
        if part == "unet":
            export(sd_export.UNetOnnx(m), (torch.randn(2, 4, 64, 64, device=dev, dtype=dtype), torch.tensor([1.0], device=dev),
                                           torch.randn(2, 77, 768, device=dev, dtype=dtype)),
                   f"{model_dir}/unet/model.onnx", ["sample", "timestep", "encoder_hidden_states"], ["out_sample"],
                   {"sample": {0: "batch", 2: "height", 3: "width"}, "timestep": {0: "steps"},
                    "encoder_hidden_states": {0: "batch", 1: "sequence"}, "out_sample": {0: "batch", 2: "height", 3: "width"}})
            sd_export.write_config(f"{model_dir}/unet/config.json", m.config)
        elif part == "text_encoder":
            export(sd_export.TextEncoderOnnx(m, ["last_hidden_state"]), (torch.zeros(1, 77, dtype=torch.int32, device=dev),),
                   f"{model_dir}/text_encoder/model.onnx", ["input_ids"], ["last_hidden_state"], {"input_ids": {0: "batch"}, "last_hidden_state": {0: "batch"}})
            m.config.to_json_file(f"{model_dir}/text_encoder/config.json")
        else:
            export(sd_export.VaeDecoderOnnx(m), (torch.randn(1, 4, 64, 64, device=dev, dtype=dtype),), f"{model_dir}/vae_decoder/model.onnx",
                   ["latent_sample"], ["sample"],
                   {"latent_sample": {0: "batch", 2: "height", 3: "width"}, "sample": {0: "batch", 2: "height", 3: "width"}})
            sd_export.write_config(f"{model_dir}/vae_decoder/config.json", m.config)
    print(f"exported {precision} {part} in {time.perf_counter() - t0:.1f} s", flush=True)


def write_folder(model_dir):
    """The non-graph files of a diffusers ONNX folder (txt2img: no vae_encoder graph)."""
    import diffusers
    ox = ["diffusers", "OnnxRuntimeModel"]
    sd_export.write_model_index(model_dir, "OnnxStableDiffusionPipeline", {
        "text_encoder": ox, "unet": ox, "vae_decoder": ox, "tokenizer": ["transformers", "CLIPTokenizer"],
        "scheduler": ["diffusers", "DDIMScheduler"], "safety_checker": [None, None], "feature_extractor": [None, None]},
        diffusers.__version__, requires_safety_checker=False)
    sd_export.write_scheduler(model_dir, SCHEDULER)
    shutil.copytree(TOKENIZER, os.path.join(model_dir, "tokenizer"), dirs_exist_ok=True)


def export_all(out):
    t0 = time.perf_counter()
    jobs = []
    for precision in ("fp32", "fp16"):
        d = os.path.join(out, f"sd15-{precision}")
        write_folder(d)
        for part in ("unet", "text_encoder", "vae"):
            jobs.append(subprocess.Popen([sys.executable, __file__, "export-part", part, precision, d]))
    failed = [j.args[3:5] for j in jobs if j.wait() != 0]
    if failed:
        sys.exit(f"export failed: {failed}")
    sizes = {p: sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(os.path.join(out, f"sd15-{p}")) for f in fs)
             for p in ("fp32", "fp16")}
    print(f"exported both folders in {time.perf_counter() - t0:.1f} s: " +
          ", ".join(f"{p} {s / 2**30:.2f} GiB" for p, s in sizes.items()), flush=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["export"] and len(sys.argv) == 3:
        export_all(sys.argv[2])
    elif sys.argv[1:2] == ["export-part"] and len(sys.argv) == 5:
        export_part(*sys.argv[2:5])
    else:
        sys.exit("usage: sd15.py export <dir>")
