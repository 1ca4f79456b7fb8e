"""Stable Diffusion components to ONNX in the diffusers/Optimum folder layout, one place for every script
that exports (the parity fixtures here; the emoji model's training/emoji_train/export.py and bench.py too).

`torch.onnx.export(..., dynamo=False)` keeps module-path node names (`/m/up_blocks.3/attentions.1/...`),
which the engine's partitioning (DeepCache, ControlNet residual surgery) relies on. Every wrapper keeps the
exported module under the attribute `m`, so names read `/m/<diffusers module path>/...`.

    python3 sd_export.py compare <folder-a> <folder-b>   # same graphs? (bytes, else outputs on random feeds)
"""
import hashlib, json, os, sys
import numpy as np
import torch

OPSET = 17


def export(module, args, path, inputs, outputs, axes):
    """torch.onnx.export with the settings every fixture uses (TorchScript exporter, opset 17, folding)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with torch.no_grad():
        torch.onnx.export(module, args, path, input_names=inputs, output_names=outputs, dynamic_axes=axes,
                          opset_version=OPSET, do_constant_folding=True, dynamo=False)
    return path


# ---------------------------------------------------------------- wrappers (the exported module is always `m`)
class TextEncoderOnnx(torch.nn.Module):
    """A CLIP text encoder with named outputs: any of last_hidden_state, pooler_output, text_embeds and
    `hidden_states` (expanded to hidden_states.0 .. hidden_states.<layers>, Optimum's names; the
    penultimate layer SDXL uses is hidden_states.<layers - 1>)."""

    def __init__(self, m, outputs):
        super().__init__()
        self.m, self.outputs = m, list(outputs)

    def forward(self, input_ids):
        if "hidden_states" not in self.outputs:
            out = self.m(input_ids=input_ids)
            if self.outputs == ["last_hidden_state"]:
                return out.last_hidden_state
            return tuple(getattr(out, o) for o in self.outputs)
        out = self.m(input_ids=input_ids, output_hidden_states=True)
        res = []
        for o in self.outputs:
            res += list(out.hidden_states) if o == "hidden_states" else [getattr(out, o)]
        return tuple(res)


class UNetOnnx(torch.nn.Module):
    """sample, timestep, encoder_hidden_states [, text_embeds, time_ids (SDXL added conditioning)]
    [, down_block_additional_residual_0..N-1, mid_block_additional_residual (ControlNet)] -> out_sample."""

    def __init__(self, m, added_cond=False, residuals=0):
        super().__init__()
        self.m, self.added_cond, self.residuals = m, added_cond, residuals

    def forward(self, sample, timestep, encoder_hidden_states, *extra):
        kw = {}
        if self.added_cond:
            kw["added_cond_kwargs"] = {"text_embeds": extra[0], "time_ids": extra[1]}
            extra = extra[2:]
        if self.residuals:
            kw["down_block_additional_residuals"] = tuple(extra[:self.residuals])
            kw["mid_block_additional_residual"] = extra[self.residuals]
        return self.m(sample, timestep, encoder_hidden_states, **kw)[0]


class ControlNetOnnx(torch.nn.Module):
    """sample, timestep, encoder_hidden_states, controlnet_cond, conditioning_scale
    -> down_block_res_sample_0..N-1, mid_block_res_sample (already multiplied by the scale)."""

    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, sample, timestep, encoder_hidden_states, controlnet_cond, conditioning_scale):
        down, mid = self.m(sample, timestep, encoder_hidden_states=encoder_hidden_states, controlnet_cond=controlnet_cond,
                           conditioning_scale=conditioning_scale, return_dict=False)
        return (*down, mid)


class VaeDecoderOnnx(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, latent_sample):
        return self.m.decode(latent_sample).sample


class VaeEncoderOnnx(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, sample):
        return self.m.encode(sample).latent_dist.parameters


# ---------------------------------------------------------------- component exports
def write_config(path, config):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(dict(config), f, indent=2, default=list)


def export_text_encoder(model, folder, outputs=("last_hidden_state",), seq=77):
    """<folder>/model.onnx + config.json; returns the output names."""
    names = []
    for o in outputs:
        names += [f"hidden_states.{i}" for i in range(model.config.num_hidden_layers + 1)] if o == "hidden_states" else [o]
    axes = {"input_ids": {0: "batch"}, **{n: {0: "batch"} for n in names}}
    export(TextEncoderOnnx(model, outputs), (torch.zeros(1, seq, dtype=torch.int32),), f"{folder}/model.onnx",
           ["input_ids"], names, axes)
    model.config.to_json_file(f"{folder}/config.json")
    return names


def residual_shapes(unet, batch, height, width):
    """Shapes of the UNet's down-block skips (conv_in, each resnet/attention, each downsampler) and the mid
    output at a latent size: what a ControlNet returns and a residual UNet takes."""
    shapes, h, w = [], height, width
    chans = list(unet.config.block_out_channels)
    shapes.append([batch, chans[0], h, w])
    for i, c in enumerate(chans):
        shapes += [[batch, c, h, w]] * unet.config.layers_per_block
        if i < len(chans) - 1:
            h, w = (h + 1) // 2, (w + 1) // 2
            shapes.append([batch, c, h, w])
    return shapes, [batch, chans[-1], h, w]


def unet_inputs(unet, batch=2, height=8, width=12, seq=77, added_cond=False, residuals=False, text_embeds_dim=None):
    """(names, example args, dynamic axes) of a UNet export."""
    c = unet.config
    names = ["sample", "timestep", "encoder_hidden_states"]
    args = [torch.randn(batch, c.in_channels, height, width), torch.tensor([1.0]), torch.randn(batch, seq, c.cross_attention_dim)]
    axes = {"sample": {0: "batch", 2: "height", 3: "width"}, "timestep": {0: "steps"},
            "encoder_hidden_states": {0: "batch", 1: "sequence"}}
    if added_cond:
        n_time = (c.projection_class_embeddings_input_dim - text_embeds_dim) // c.addition_time_embed_dim
        names += ["text_embeds", "time_ids"]
        args += [torch.randn(batch, text_embeds_dim), torch.randn(batch, n_time) * 64]
        axes.update(text_embeds={0: "batch"}, time_ids={0: "batch"})
    if residuals:
        down, mid = residual_shapes(unet, batch, height, width)
        for i, s in enumerate(down):
            names.append(f"down_block_additional_residual_{i}")
            args.append(torch.randn(*s) * 0.1)
            axes[names[-1]] = {0: "batch", 2: f"height_{i}", 3: f"width_{i}"}
        names.append("mid_block_additional_residual")
        args.append(torch.randn(*mid) * 0.1)
        axes[names[-1]] = {0: "batch", 2: "height_mid", 3: "width_mid"}
    return names, args, axes


def export_unet(unet, folder, added_cond=False, residuals=False, text_embeds_dim=None, **shape):
    """<folder>/model.onnx + config.json; returns (input names, example args) for check()."""
    names, args, axes = unet_inputs(unet, added_cond=added_cond, residuals=residuals, text_embeds_dim=text_embeds_dim, **shape)
    n_res = len(residual_shapes(unet, 1, 1, 1)[0]) if residuals else 0
    axes["out_sample"] = {0: "batch", 2: "height", 3: "width"}
    export(UNetOnnx(unet, added_cond, n_res), tuple(args), f"{folder}/model.onnx", names, ["out_sample"], axes)
    write_config(f"{folder}/config.json", unet.config)
    return names, args


def export_controlnet(controlnet, folder, batch=2, height=8, width=12, seq=77):
    """<folder>/model.onnx + config.json; returns (input names, example args, output names)."""
    c = controlnet.config
    f = 2 ** (len(c.conditioning_embedding_out_channels) - 1)
    names = ["sample", "timestep", "encoder_hidden_states", "controlnet_cond", "conditioning_scale"]
    args = (torch.randn(batch, c.in_channels, height, width), torch.tensor([1.0]), torch.randn(batch, seq, c.cross_attention_dim),
            torch.rand(batch, c.conditioning_channels, height * f, width * f), torch.tensor([1.0]))
    down, _ = residual_shapes(controlnet, batch, height, width)
    outs = [f"down_block_res_sample_{i}" for i in range(len(down))] + ["mid_block_res_sample"]
    axes = {"sample": {0: "batch", 2: "height", 3: "width"}, "timestep": {0: "steps"},
            "encoder_hidden_states": {0: "batch", 1: "sequence"}, "controlnet_cond": {0: "batch", 2: "image_height", 3: "image_width"},
            **{o: {0: "batch", 2: f"height_{i}", 3: f"width_{i}"} for i, o in enumerate(outs)}}
    export(ControlNetOnnx(controlnet), args, f"{folder}/model.onnx", names, outs, axes)
    write_config(f"{folder}/config.json", c)
    return names, list(args), outs


def export_vae(vae, root, height=64, width=96):
    """<root>/vae_decoder and <root>/vae_encoder (model.onnx + the VAE's config.json each)."""
    f = 2 ** (len(vae.config.block_out_channels) - 1)
    export(VaeDecoderOnnx(vae), (torch.randn(1, vae.config.latent_channels, height // f, width // f),), f"{root}/vae_decoder/model.onnx",
           ["latent_sample"], ["sample"], {"latent_sample": {0: "batch", 2: "height", 3: "width"}, "sample": {0: "batch", 2: "height", 3: "width"}})
    export(VaeEncoderOnnx(vae), (torch.randn(1, vae.config.in_channels, height, width),), f"{root}/vae_encoder/model.onnx",
           ["sample"], ["latent_parameters"], {"sample": {0: "batch", 2: "height", 3: "width"}, "latent_parameters": {0: "batch", 2: "height", 3: "width"}})
    for part in ("vae_decoder", "vae_encoder"):
        write_config(f"{root}/{part}/config.json", vae.config)


def write_model_index(root, class_name, components, diffusers_version, **config):
    """model_index.json: components maps a folder name to [library, class] ([None, None] for absent parts);
    config holds pipeline flags such as force_zeros_for_empty_prompt or requires_aesthetics_score."""
    os.makedirs(root, exist_ok=True)
    with open(f"{root}/model_index.json", "w") as f:
        json.dump({"_class_name": class_name, "_diffusers_version": diffusers_version, **components, **config}, f, indent=2)


def write_scheduler(root, config):
    """<root>/scheduler/scheduler_config.json."""
    os.makedirs(f"{root}/scheduler", exist_ok=True)
    with open(f"{root}/scheduler/scheduler_config.json", "w") as f:
        json.dump(config, f, indent=2)


# SD 1.5's scheduler_config.json, verbatim: the SD 1.x folders made here (tiny-sd, the emoji model) ship it
SD15_SCHEDULER = {"_class_name": "PNDMScheduler", "_diffusers_version": "0.6.0", "beta_end": 0.012,
                  "beta_schedule": "scaled_linear", "beta_start": 0.00085, "num_train_timesteps": 1000,
                  "set_alpha_to_one": False, "skip_prk_steps": True, "steps_offset": 1,
                  "trained_betas": None, "clip_sample": False}


def write_sd_model_index(root, diffusers_version, class_name="OnnxStableDiffusionPipeline", extra=()):
    """model_index.json of an SD 1.x ONNX folder: text encoder, UNet (then the `extra` ONNX parts, e.g.
    controlnet), VAE decoder and encoder, CLIP tokenizer, PNDM, no safety checker."""
    ox = ["diffusers", "OnnxRuntimeModel"]
    write_model_index(root, class_name, {
        "text_encoder": ox, "unet": ox, **{part: ox for part in extra}, "vae_decoder": ox, "vae_encoder": ox,
        "tokenizer": ["transformers", "CLIPTokenizer"], "scheduler": ["diffusers", "PNDMScheduler"],
        "safety_checker": [None, None], "feature_extractor": [None, None]}, diffusers_version, requires_safety_checker=False)


def write_sd15_folder(root, diffusers_version):
    """An SD 1.x ONNX folder's model_index.json and SD 1.5's scheduler config; the graphs come from export_*."""
    write_sd_model_index(root, diffusers_version)
    write_scheduler(root, SD15_SCHEDULER)


# ---------------------------------------------------------------- checks
def session(path):
    import onnxruntime as ort
    return ort.InferenceSession(path, providers=["CPUExecutionProvider"])


def check(path, module, names, args):
    """max |ONNX - torch| over all outputs of `module` (one of the wrappers) on the example args."""
    with torch.no_grad():
        want = module(*args)
    want = [want] if torch.is_tensor(want) else list(want)
    feeds = {n: (a.numpy().astype(np.int32) if a.dtype in (torch.int32, torch.int64) else a.numpy().astype(np.float32))
             for n, a in zip(names, args)}
    got = session(path).run(None, feeds)
    return max(float(np.abs(w.numpy() - g).max()) for w, g in zip(want, got))


def skip_tensors(residual_onnx, plain_onnx):
    """Where a ControlNet's residuals enter a plain UNet export: for each residual input of an export of
    the same UNet WITH residual inputs, the tensor it is added to (the down-block skip, or the mid-block
    output), that tensor's producer node in the plain graph, and the plain graph's consumers of it
    (up-block skip concats vs the down path, which must stay un-added)."""
    import onnx
    res, plain = onnx.load(residual_onnx, load_external_data=False).graph, onnx.load(plain_onnx, load_external_data=False).graph
    consumers = {}
    for n in plain.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n.name)
    producer = {o: n.name for n in plain.node for o in n.output}
    out = []
    for inp in res.input:
        if not inp.name.endswith("residual") and "_residual_" not in inp.name:
            continue
        add = next(n for n in res.node if inp.name in n.input)
        tensor = next(i for i in add.input if i != inp.name)
        users = consumers.get(tensor, [])
        out.append({"input": inp.name, "addNode": add.name, "tensor": tensor, "inPlainGraph": tensor in producer,
                    "producer": producer.get(tensor), "upBlockConsumers": [u for u in users if "/up_blocks." in u],
                    "otherConsumers": [u for u in users if "/up_blocks." not in u]})
    return out


def _random_feeds(sess, rng):
    feeds = {}
    for i in sess.get_inputs():
        shape = [d if isinstance(d, int) else {"sequence": 77, "steps": 1}.get(d, 2 if "batch" in str(d) else 8) for d in i.shape]
        if "int" in i.type:
            feeds[i.name] = rng.integers(0, 100, shape).astype(np.int64 if "int64" in i.type else np.int32)
        else:
            feeds[i.name] = rng.standard_normal(shape).astype(np.float32)
    return feeds


def compare_folders(a, b):
    """Every model.onnx under folder a against b's: 'identical bytes', else the max abs output difference
    on random feeds (shapes from the first graph; VAE sizes must suit both). Returns {relpath: result}."""
    res = {}
    for dirpath, _, files in os.walk(a):
        for f in files:
            rel = os.path.relpath(os.path.join(dirpath, f), a)
            pa, pb = os.path.join(a, rel), os.path.join(b, rel)
            if not os.path.exists(pb):
                res[rel] = "missing in " + b
                continue
            ha, hb = (hashlib.sha256(open(p, "rb").read()).hexdigest() for p in (pa, pb))
            if ha == hb:
                res[rel] = "identical bytes"
            elif f.endswith(".onnx"):
                sa, sb = session(pa), session(pb)
                feeds = _random_feeds(sa, np.random.default_rng(0))
                if "vae" in rel:  # spatial sizes must be multiples of 8 for the encoder
                    feeds = {k: np.random.default_rng(1).standard_normal([1, v.shape[1], 16, 16] if v.ndim == 4 else v.shape).astype(np.float32)
                             for k, v in feeds.items()}
                oa, ob = sa.run(None, feeds), sb.run(None, feeds)
                res[rel] = "outputs max abs %.3g" % max(float(np.abs(x - y).max()) for x, y in zip(oa, ob))
            else:
                res[rel] = "differs"
    return res


if __name__ == "__main__" and len(sys.argv) == 4 and sys.argv[1] == "compare":
    for k, v in sorted(compare_folders(sys.argv[2], sys.argv[3]).items()):
        print(f"{k}: {v}")
