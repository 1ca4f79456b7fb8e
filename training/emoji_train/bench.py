"""Which UNet to train: random-init candidates exported and timed on CPU (a subprocess beside the VAE)."""
import json, os, time
import numpy as np
import torch
from sd_export import UNetOnnx, VaeDecoderOnnx, export
from .common import UNET_CANDIDATES, UNET_MAX_PARAMS, log, now
from .models import make_unet, make_vae, nparams


def bench_unet_cpu(out_json):
    """Exports random-init candidates and times them with onnxruntime, 2 threads (runs on CPU)."""
    import onnxruntime as ort
    torch.set_num_threads(4)
    res = []
    tmp = "/tmp/emoji-bench"
    os.makedirs(tmp, exist_ok=True)

    def ort_time(path, feeds, n=15):
        so = ort.SessionOptions(); so.intra_op_num_threads = 2; so.inter_op_num_threads = 1
        s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        for _ in range(3):
            s.run(None, feeds)
        ts = []
        for _ in range(n):
            t = time.perf_counter(); s.run(None, feeds); ts.append(time.perf_counter() - t)
        return float(np.median(ts))
    with torch.no_grad():  # fixed shapes (no dynamic axes): the timing is for 16x16 latents only
        vae = make_vae().eval()
        p = export(VaeDecoderOnnx(vae), (torch.randn(1, 4, 16, 16),), f"{tmp}/vd.onnx", ["latent_sample"], ["sample"], None)
        vd = ort_time(p, {"latent_sample": np.random.randn(1, 4, 16, 16).astype(np.float32)}, 5)
        for a in UNET_CANDIDATES:
            u = make_unet(a).eval()
            p = export(UNetOnnx(u), (torch.randn(2, 4, 16, 16), torch.tensor([1.0]), torch.randn(2, 77, 128)),
                       f"{tmp}/u{a[0]}_{a[1]}_{a[2]}.onnx", ["sample", "timestep", "encoder_hidden_states"], ["out_sample"], None)
            ms = ort_time(p, {"sample": np.random.randn(2, 4, 16, 16).astype(np.float32), "timestep": np.array([500.0], np.float32),
                              "encoder_hidden_states": np.random.randn(2, 77, 128).astype(np.float32)})
            est = 26 * ms + vd + 0.01
            res.append({"arch": a, "params": nparams(u), "unet_batch2_s": ms, "vae_decode_s": vd, "est_image_s": est})
            print("bench", res[-1], flush=True)
    json.dump(res, open(out_json, "w"), indent=1)


def choose_arch(bench_json, wait_until):
    while not os.path.exists(bench_json) and now() < wait_until:
        time.sleep(2)
    if not os.path.exists(bench_json):
        log("CPU bench missing; using", UNET_CANDIDATES[1])
        return list(UNET_CANDIDATES[1]), None
    res = json.load(open(bench_json))
    for r in res:
        if r["est_image_s"] <= 1.2 and r["params"] <= UNET_MAX_PARAMS:
            return list(r["arch"]), res
    return list(res[-1]["arch"]), res
