"""Canny edges, step for step as the engine's TypeScript (app/canny.ts), so the ControlNet trains on the
edges users get: float64 throughout, the same order of operations, no atan2 (direction by comparisons)
and no library whose blur or rounding would differ.
  1. grey = 0.299 R + 0.587 G + 0.114 B (0..255)
  2. 5x5 Gaussian (sigma 1.4, separable: rows then columns), edges replicated
  3. Sobel gx, gy (edges replicated), magnitude sqrt(gx^2 + gy^2)
  4. non-maximum suppression across the gradient direction (0/45/90/135 degrees; out of image = 0)
  5. strong > high, weak > low (as OpenCV); hysteresis: weak pixels 8-connected to a strong one are kept
Works on a batch [N, H, W] of uint8-valued greys, on the CPU or the GPU (same IEEE operations)."""
import math
import torch

TAN22 = math.sqrt(2) - 1  # tan(22.5 deg)
TAN67 = math.sqrt(2) + 1  # tan(67.5 deg)


def gaussian_kernel(sigma=1.4, radius=2):
    w = [math.exp(-(i * i) / (2 * sigma * sigma)) for i in range(-radius, radius + 1)]
    s = 0.0
    for x in w:  # left to right, as the TypeScript (Python 3.12's sum() of floats is compensated)
        s += x
    return [x / s for x in w]


def _pad_rep(x, r):
    return torch.nn.functional.pad(x[:, None], (r, r, r, r), mode="replicate")[:, 0]


def grey(rgb):
    """[N, H, W, 3] uint8 -> [N, H, W] float64."""
    x = rgb.double()
    return 0.299 * x[..., 0] + 0.587 * x[..., 1] + 0.114 * x[..., 2]


def canny(g, low=100.0, high=200.0):
    """g: [N, H, W] float64 grey 0..255 -> bool edges [N, H, W]."""
    n, h, w = g.shape
    k = gaussian_kernel()
    p = _pad_rep(g, 2)
    row = sum(k[i] * p[:, :, i:i + w] for i in range(5))  # rows first: [N, H+4, W]
    b = sum(k[i] * row[:, i:i + h, :] for i in range(5))
    p = _pad_rep(b, 1)
    at = lambda dy, dx: p[:, 1 + dy:1 + dy + h, 1 + dx:1 + dx + w]  # noqa: E731
    gx = (at(-1, 1) + 2 * at(0, 1) + at(1, 1)) - (at(-1, -1) + 2 * at(0, -1) + at(1, -1))
    gy = (at(1, -1) + 2 * at(1, 0) + at(1, 1)) - (at(-1, -1) + 2 * at(-1, 0) + at(-1, 1))
    mag = torch.sqrt(gx * gx + gy * gy)
    m = torch.nn.functional.pad(mag, (1, 1, 1, 1))  # zeros outside
    nb = lambda dy, dx: m[:, 1 + dy:1 + dy + h, 1 + dx:1 + dx + w]  # noqa: E731
    ax, ay = gx.abs(), gy.abs()
    horiz = ay <= ax * TAN22
    vert = ay > ax * TAN67
    diag_down = ~horiz & ~vert & ((gx * gy) > 0)  # gradient towards +x+y (y grows downwards)
    diag_up = ~horiz & ~vert & ~diag_down
    keep = (horiz & (mag >= nb(0, -1)) & (mag >= nb(0, 1))) | (vert & (mag >= nb(-1, 0)) & (mag >= nb(1, 0))) \
        | (diag_down & (mag >= nb(-1, -1)) & (mag >= nb(1, 1))) | (diag_up & (mag >= nb(-1, 1)) & (mag >= nb(1, -1)))
    weak, strong = keep & (mag > low), keep & (mag > high)
    cur = strong
    while True:  # grow the strong set through weak pixels until it stops (= the connected components)
        for _ in range(8):
            grown = torch.nn.functional.max_pool2d(cur[:, None].float(), 3, 1, 1)[:, 0] > 0
            cur = grown & weak
        if bool((torch.nn.functional.max_pool2d(cur[:, None].float(), 3, 1, 1)[:, 0] > 0).logical_and(weak).eq(cur).all()):
            return cur
