"""The shipped model folder: ONNX export through sd_export.py, fp16 weight storage, and its CPU timing."""
import json, os, time
import numpy as np
import torch
from sd_export import SD15_SCHEDULER, UNetOnnx, check, export_text_encoder, export_unet, export_vae, write_sd15_folder
from .common import SIZE, log

PARTS = ("text_encoder", "unet", "vae_decoder", "vae_encoder")


def export_onnx(st, vae, te, unet, out_dir):
    """The diffusers ONNX layout (copies of the models are fine: they move to the CPU in fp32)."""
    import diffusers
    te, unet, vae = te.float().cpu().eval(), unet.float().cpu().eval(), vae.float().cpu().eval()
    vae.register_to_config(scaling_factor=st.meta["scaling_factor"])
    # scaling_factor is set, not default (diffusers would reset a listed key on load)
    vae.register_to_config(_use_default_values=[k for k in vae.config.get("_use_default_values", []) if k != "scaling_factor"])
    export_text_encoder(te, f"{out_dir}/text_encoder")
    names, _ = export_unet(unet, f"{out_dir}/unet", height=SIZE // 8, width=SIZE // 8)
    export_vae(vae, out_dir, height=SIZE, width=SIZE)
    write_sd15_folder(out_dir, diffusers.__version__)
    info = {part: fp16_storage(f"{out_dir}/{part}/model.onnx") for part in PARTS}
    # parity: ONNX (fp16-stored weights) vs torch (fp16-rounded weights), at t = 500 on fresh inputs
    x, ehs = torch.randn(2, 4, 16, 16), torch.randn(2, 77, unet.config.cross_attention_dim)
    info["unet_onnx_vs_torch_max_abs"] = check(f"{out_dir}/unet/model.onnx", UNetOnnx(unet), names, [x, torch.tensor([500.0]), ehs])
    log("export", info)
    return info


def _rebuild(m, initializers, first_nodes):
    """The graph with these initializers, and these nodes (their dequantize/cast steps) before its own."""
    del m.graph.initializer[:]
    m.graph.initializer.extend(initializers)
    nodes = first_nodes + list(m.graph.node)
    del m.graph.node[:]
    m.graph.node.extend(nodes)


def fp16_storage(path):
    """fp16 storage, fp32 compute: big fp32 initializers become fp16 '<name>_fp16' + Cast back to '<name>'."""
    import onnx
    from onnx import numpy_helper, helper, TensorProto
    m = onnx.load(path)
    casts, keep, n16 = [], [], 0
    for init in m.graph.initializer:
        if init.data_type == TensorProto.FLOAT and int(np.prod(init.dims)) >= 1024:
            a = numpy_helper.to_array(init).astype(np.float16)
            keep.append(numpy_helper.from_array(a, init.name + "_fp16"))
            casts.append(helper.make_node("Cast", [init.name + "_fp16"], [init.name], name=init.name + "_cast",
                                          to=TensorProto.FLOAT))
            n16 += 1
        else:
            keep.append(init)
    _rebuild(m, keep, casts)
    onnx.checker.check_model(m)
    onnx.save(m, path)
    return {"bytes": os.path.getsize(path), "fp16_initializers": n16, "nodes": len(m.graph.node)}


def int8_storage(path):
    """int8 storage, fp32 compute (half fp16's bytes, so the emoji ControlNet fits the embedded folder's budget):
    initializers of >= 2 dims and >= 1024 values become int8 '<name>_q' + per-output-channel scale, dequantized
    by DequantizeLinear into '<name>'; other big ones fp16 + Cast. Same rounding as models.int8_round: the output
    channel is axis 0 of a Conv weight but the last axis of a MatMul B (torch exports Linear weights transposed)."""
    import onnx
    from onnx import numpy_helper, helper, TensorProto
    m = onnx.load(path)
    pre, keep, n8, n16 = [], [], 0, 0
    for init in m.graph.initializer:
        a = numpy_helper.to_array(init)
        if init.data_type == TensorProto.FLOAT and a.ndim >= 2 and a.size >= 1024:
            axis = out_axis(m.graph, init.name, a.ndim)
            red = tuple(d for d in range(a.ndim) if d != axis)
            s = (np.abs(a).max(red).clip(min=1e-12) / 127).astype(np.float32)
            q = np.clip(np.round(a / np.expand_dims(s, red)), -127, 127).astype(np.int8)
            keep += [numpy_helper.from_array(q, init.name + "_q"), numpy_helper.from_array(s, init.name + "_scale")]
            pre.append(helper.make_node("DequantizeLinear", [init.name + "_q", init.name + "_scale"], [init.name],
                                        name=init.name + "_dequant", axis=axis))
            n8 += 1
        elif init.data_type == TensorProto.FLOAT and a.size >= 1024:
            keep.append(numpy_helper.from_array(a.astype(np.float16), init.name + "_fp16"))
            pre.append(helper.make_node("Cast", [init.name + "_fp16"], [init.name], name=init.name + "_cast", to=TensorProto.FLOAT))
            n16 += 1
        else:
            keep.append(init)
    _rebuild(m, keep, pre)
    short_names(m.graph)
    onnx.checker.check_model(m)
    onnx.save(m, path)
    return {"bytes": os.path.getsize(path), "int8_initializers": n8, "fp16_initializers": n16, "nodes": len(m.graph.node)}


def short_names(graph):
    """Drops node names and renames intermediate values 'v<n>' (the exporter's module paths took ~250 KB of the
    ControlNet); the graph's inputs, outputs and initializers keep theirs, so the computation is unchanged.
    Not for the UNet: the engine finds its residual points and DeepCache cuts by those module paths."""
    keep = {v.name for v in list(graph.input) + list(graph.output)} | {i.name for i in graph.initializer}
    new = {}
    for n in graph.node:
        n.name = ""
        for k, x in enumerate(n.output):
            if x and x not in keep:
                n.output[k] = new.setdefault(x, f"v{len(new)}")
    for n in graph.node:
        for k, x in enumerate(n.input):
            n.input[k] = new.get(x, x)
    del graph.value_info[:]


def out_axis(graph, name, ndim):
    """The output-channel axis of a weight, from how the graph reads it: the last axis as a MatMul B (or a Gemm B
    without transB), else 0 (Conv, Gemm with transB). A weight read both ways has no one axis: refused."""
    axes = set()
    for n in graph.node:
        for i, x in enumerate(n.input):
            if x != name:
                continue
            trans_b = any(at.name == "transB" and at.i for at in n.attribute)
            axes.add(ndim - 1 if i == 1 and (n.op_type == "MatMul" or (n.op_type == "Gemm" and not trans_b)) else 0)
    if len(axes) > 1:
        raise ValueError(f"{name}: read as a MatMul B and otherwise; no single output-channel axis to quantize along")
    return axes.pop() if axes else 0


def cpu_timing(model_dir, tok, runs=20):
    """One 128x128 image: text encoder (CFG batch 2), 25 PNDM steps (26 UNet calls, batch 2), VAE decode;
    onnxruntime CPU, intra_op 2 threads, inter_op 1."""
    import onnxruntime as ort
    from diffusers import PNDMScheduler
    so = ort.SessionOptions(); so.intra_op_num_threads = 2; so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    S = {k: ort.InferenceSession(f"{model_dir}/{k}/model.onnx", so, providers=["CPUExecutionProvider"])
         for k in ("text_encoder", "unet", "vae_decoder")}
    sf = json.load(open(f"{model_dir}/vae_decoder/config.json"))["scaling_factor"]
    ids = np.array(tok(["", "grinning face, twemoji style"], padding="max_length", max_length=77).input_ids, np.int32)

    def image(steps=25, seed=0):
        sch = PNDMScheduler.from_config(SD15_SCHEDULER)
        sch.set_timesteps(steps)
        ehs = S["text_encoder"].run(None, {"input_ids": ids})[0]
        lat = torch.from_numpy(np.random.RandomState(seed).randn(1, 4, 16, 16).astype(np.float32))
        n = 0
        for t in sch.timesteps:
            e = S["unet"].run(None, {"sample": np.concatenate([lat.numpy()] * 2), "timestep": np.array([float(t)], np.float32),
                                     "encoder_hidden_states": ehs})[0]
            n += 1
            e = torch.from_numpy(e)
            e = e[:1] + 7.5 * (e[1:] - e[:1])
            lat = sch.step(e, t, lat).prev_sample
        img = S["vae_decoder"].run(None, {"latent_sample": (lat / sf).numpy()})[0]
        return img, n
    for _ in range(2):
        img, n = image()
    ts = []
    for i in range(runs):
        t = time.perf_counter(); image(seed=i); ts.append(time.perf_counter() - t)
    # per-part medians
    parts = {}
    for k, feeds in (("unet_batch2", {"sample": np.zeros((2, 4, 16, 16), np.float32), "timestep": np.array([500.0], np.float32),
                                      "encoder_hidden_states": np.zeros((2, 77, S["text_encoder"].get_outputs()[0].shape[2] or 128), np.float32)}),
                     ("vae_decoder", {"latent_sample": np.zeros((1, 4, 16, 16), np.float32)}),
                     ("text_encoder", {"input_ids": ids})):
        sess = S["unet" if k == "unet_batch2" else k]
        tt = []
        for _ in range(20):
            t = time.perf_counter(); sess.run(None, feeds); tt.append(time.perf_counter() - t)
        parts[k] = round(float(np.median(tt)) * 1000, 2)
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    r = {"cpu": cpu, "ort": ort.__version__, "threads": "intra_op 2, inter_op 1", "runs": runs, "unet_calls": n,
         "median_s": round(float(np.median(ts)), 3), "min_s": round(float(np.min(ts)), 3), "max_s": round(float(np.max(ts)), 3),
         "part_median_ms": parts, "image_mean": float(img.mean()), "image_std": float(img.std())}
    log("cpu timing", r)
    return r, img
