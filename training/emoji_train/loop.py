"""The training loop every generator stage runs: one step captured as a CUDA graph and replayed."""
import torch
from .common import log, now


def graph_adamw(params, lr, **kw):
    """AdamW whose lr is a device tensor, so a captured step reads the value set before each replay."""
    return torch.optim.AdamW(params, lr=torch.tensor(lr, device="cuda"), capturable=True, foreach=True, **kw)


def train_loop(name, step_fn, opt, budget, prepare, step0=0, every=2000, checkpoint=None):
    """Runs step_fn (batch, forward, backward, opt.step; returns the loss tensor) for `budget` seconds.
    These models are tiny, so an eager step is launch-bound (measured ~150 ms on an H100 at batch 256
    and at 768 alike): the step is captured once as a CUDA graph and replayed (eager if capture fails).
    prepare(i, frac) fills the lr/EMA tensors before step i (frac = share of the budget used)."""
    t0, i, graph, loss, last_ck = now(), 0, None, None, now()
    frac = lambda: min(1.0, (now() - t0) / budget)
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):  # warm-up (cudnn autotuning, optimiser state) as real steps
        for _ in range(3):
            prepare(i, frac()); opt.zero_grad(set_to_none=True); loss = step_fn(); i += 1
    torch.cuda.current_stream().wait_stream(side)
    try:
        opt.zero_grad(set_to_none=True)
        g = torch.cuda.CUDAGraph()
        with torch.cuda.graph(g):
            static_loss = step_fn()
        graph = g  # loss stays the warm-up's until the first replay fills static_loss
        log(f"{name}: step captured as a CUDA graph")
    except Exception as e:  # noqa: BLE001 - any capture failure falls back to eager steps
        torch.cuda.synchronize()
        log(f"{name}: CUDA graph capture failed ({e!r}); eager steps")
    while now() - t0 < budget:
        prepare(i, frac())
        if graph is not None:
            graph.replay(); loss = static_loss
        else:
            opt.zero_grad(set_to_none=True); loss = step_fn()
        i += 1
        if i % 50 == 0:
            torch.cuda.synchronize()  # keeps the CPU from queueing replays past the budget
        if i % every == 0:
            log(f"{name} step {step0 + i} loss {loss.item():.4f} lr {opt.param_groups[0]['lr'].item():.2e} "
                f"({(now() - t0) / i * 1000:.1f} ms/step)")
        if checkpoint and now() - last_ck > 240:
            checkpoint(step0 + i, now() - t0); last_ck = now()
    torch.cuda.synchronize()
    return i, loss.item(), now() - t0
