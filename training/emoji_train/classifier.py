"""The evaluation classifier (concept and style heads), trained on real renders and VAE reconstructions."""
import math
import torch
import torch.nn as nn
import torch.nn.functional as F
from .common import STYLES, log, now, seed_all
from .state import load_sd, save_sd


class Classifier(nn.Module):
    def __init__(s, n_concepts, n_styles=len(STYLES)):
        super().__init__()

        def blk(i, o, st):
            return nn.Sequential(nn.Conv2d(i, o, 3, st, 1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True),
                                 nn.Conv2d(o, o, 3, 1, 1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True))
        s.f = nn.Sequential(blk(3, 32, 1), blk(32, 64, 2), blk(64, 128, 2), blk(128, 256, 2),
                            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2))
        s.hc, s.hs = nn.Linear(256, n_concepts), nn.Linear(256, n_styles)

    def forward(s, x):  # x: [B,3,128,128] in [0,1]
        h = s.f(F.interpolate(x, size=64, mode="area") * 2 - 1)
        return s.hc(h), s.hs(h)


def load_classifier(st, n_concepts):
    clf = Classifier(n_concepts)
    clf.load_state_dict(load_sd(st.p("classifier.safetensors")))
    return clf.cuda().eval()


def augment(x, g):
    """Random affine (scale/shift/rotate), colour jitter, blur and noise; x in [0,1]."""
    b = x.shape[0]
    dev = x.device
    sc = torch.empty(b, device=dev).uniform_(0.85, 1.15, generator=g)
    rot = torch.empty(b, device=dev).uniform_(-0.15, 0.15, generator=g)
    tx, ty = (torch.empty(b, device=dev).uniform_(-0.08, 0.08, generator=g) for _ in range(2))
    th = torch.stack([torch.stack([sc * torch.cos(rot), -sc * torch.sin(rot), tx], 1),
                      torch.stack([sc * torch.sin(rot), sc * torch.cos(rot), ty], 1)], 1)
    grid = F.affine_grid(th, list(x.shape), align_corners=False)
    x = F.grid_sample(x * 2 - 1, grid, padding_mode="border", align_corners=False) * 0.5 + 0.5
    br = torch.empty(b, 1, 1, 1, device=dev).uniform_(-0.08, 0.08, generator=g)
    ct = torch.empty(b, 1, 1, 1, device=dev).uniform_(0.8, 1.2, generator=g)
    x = (x - 0.5) * ct + 0.5 + br
    blur = (torch.rand(b, 1, 1, 1, device=dev, generator=g) < 0.3).float()
    x = blur * F.avg_pool2d(x, 3, 1, 1, count_include_pad=False) + (1 - blur) * x
    x = x + 0.03 * torch.rand(b, 1, 1, 1, device=dev, generator=g) * torch.randn(x.shape, device=dev, generator=g)
    return x.clamp(0, 1)


def stage_classifier(st, imgs_gpu, recs_gpu, meta, n_concepts, budget):
    seed_all(2)
    clf = Classifier(n_concepts).cuda().train()
    opt = torch.optim.AdamW(clf.parameters(), lr=2e-3, weight_decay=0.05)
    g = torch.Generator("cuda").manual_seed(2)
    yc = torch.from_numpy(meta["concept"]).cuda()
    ys = torch.from_numpy(meta["style"]).cuda()
    n, step, t_start = imgs_gpu.shape[0], 0, now()
    while now() - t_start < budget:
        idx = torch.randint(0, n, (512,), device="cuda", generator=g)
        use_rec = (torch.rand(512, device="cuda", generator=g) < 0.5)[:, None, None, None]
        x = torch.where(use_rec, recs_gpu[idx], imgs_gpu[idx]).float() / 255
        x = augment(x, g)
        frac = min(1, (now() - t_start) / budget)
        for gr in opt.param_groups:
            gr["lr"] = 2e-3 * min(1, (step + 1) / 100) * 0.5 * (1 + math.cos(math.pi * frac))
        with torch.autocast("cuda", torch.bfloat16):
            lc, ls = clf(x)
        loss = F.cross_entropy(lc.float(), yc[idx], label_smoothing=0.1) + 0.5 * F.cross_entropy(ls.float(), ys[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % 300 == 0:
            log(f"clf step {step} loss {loss.item():.3f}")
        step += 1
    clf.eval()
    acc = classify(clf, recs_gpu.float() / 255, yc, ys)
    log(f"classifier done {step} steps; on VAE reconstructions: {acc}")
    save_sd(clf, st.p("classifier.safetensors"))
    st.made.add("classifier.safetensors")
    st.save("classifier", classifier_steps=step, classifier_on_vae_recon=acc)
    return clf


@torch.no_grad()
def classify(clf, x, yc, ys, want_style=None):
    """x [N,3,128,128] in [0,1]; returns top-1/top-5 concept accuracy and style accuracy."""
    t1 = t5 = sa = 0
    for i in range(0, x.shape[0], 512):
        with torch.autocast("cuda", torch.bfloat16):
            lc, ls = clf(x[i:i + 512].cuda())
        top = lc.float().topk(5, 1).indices
        y = yc[i:i + 512]
        t1 += int((top[:, 0] == y).sum()); t5 += int((top == y[:, None]).any(1).sum())
        sa += int((ls.argmax(1) == (ys if want_style is None else want_style)[i:i + 512]).sum())
    n = x.shape[0]
    return {"n": n, "top1": round(t1 / n, 4), "top5": round(t5 / n, 4), "style_acc": round(sa / n, 4)}
