"""How the reference scripts write arrays and record a diffusers run (the format test/parity/reference.ts reads)."""
import base64, gzip, json
import numpy as np


def jsonable(v):
    # JSON has no infinities: diffusers' configs do (lambda_min_clipped = -inf)
    return str(v) if isinstance(v, float) and not np.isfinite(v) else v


def b64(a, dtype=np.float32):
    """Little-endian raw bytes of the array (float32 unless told), base64."""
    return base64.b64encode(np.ascontiguousarray(np.asarray(a, dtype=dtype)).tobytes()).decode()


def u16(img):
    """Images in [0, 1] stored as uint16 (value x 65535), base64: the fixtures' image format."""
    return b64(np.clip(img, 0, 1) * 65535 + 0.5, np.uint16)


def psnr(a, b):
    return float(10 * np.log10(1 / max(float(np.mean((np.asarray(a) - np.asarray(b)) ** 2)), 1e-20)))


def scheduler_config(scheduler):
    return {k: jsonable(v) for k, v in scheduler.config.items()}


class StepRecorder:
    """callback_on_step_end that keeps each step's timestep and latents (after the scheduler step, and after
    the latent blend where the pipeline does one), plus the tensors named in `first` at step 0."""

    def __init__(self, first=()):
        self.latents, self.timesteps, self.first, self._want = [], [], {}, list(first)

    def __call__(self, pipe, i, t, kw):
        self.timesteps.append(float(t))
        self.latents.append(kw["latents"].detach().float().clone().numpy())
        if i == 0:
            self.first = {k: kw[k].detach().float().clone().numpy() for k in self._want}
        return kw

    @property
    def tensor_inputs(self):
        return ["latents", *self._want]


def capture_prepare_latents(pipe):
    """Wraps pipe.prepare_latents so the run records the initial latents (and, where the pipeline returns
    them, the noise and the encoded image latents). Returns the dict it fills."""
    seen = {}
    orig = pipe.prepare_latents

    def wrapped(*a, **k):
        out = orig(*a, **k)
        parts = out if isinstance(out, tuple) else (out,)
        names = ["initLatents", "noise", "imageLatents"][:len(parts)]
        seen.update({n: p.detach().float().clone().numpy() for n, p in zip(names, parts)})
        return out
    pipe.prepare_latents = wrapped
    return seen


def record_run(pipe, seed, first=(), **kwargs):
    """Runs pipe(**kwargs) with torch.Generator("cpu").manual_seed(seed) and output_type "np"; returns
    (fixture entry, images). The entry holds the seed, the scheduler's config and timesteps, the timesteps
    the loop ran, every step's latents, the initial latents (noise, image latents where the pipeline makes
    them), the step-0 tensors named in `first`, and the images as u16."""
    import torch
    rec = StepRecorder(first)
    seen = capture_prepare_latents(pipe)
    try:
        with torch.no_grad():
            images = pipe(**kwargs, generator=torch.Generator("cpu").manual_seed(seed), output_type="np",
                          callback_on_step_end=rec, callback_on_step_end_tensor_inputs=rec.tensor_inputs).images
    finally:
        del pipe.prepare_latents  # back to the class's method
    entry = {"seed": seed, "schedulerConfig": scheduler_config(pipe.scheduler),
             "timesteps": [float(t) for t in pipe.scheduler.timesteps], "stepTimesteps": rec.timesteps,
             "latentShape": list(rec.latents[0].shape), "latents": [b64(l) for l in rec.latents],
             "imageShape": list(images.shape), "image": u16(images)}
    for k, v in {**seen, **rec.first}.items():
        entry[k] = b64(v)
        entry[k + "Shape"] = list(v.shape)
    return entry, images


def write_gz(path, obj):
    """gzip -9 JSON with no timestamp or name in the header, so a re-run writes the same bytes."""
    with open(path, "wb") as raw, gzip.GzipFile(filename="", fileobj=raw, mode="wb", compresslevel=9, mtime=0) as f:
        f.write(json.dumps(obj).encode())
