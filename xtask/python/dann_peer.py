"""PyTorch peers for `shift bench train`, beside bench/reference_dann.py (whose model, GRL and loaders it imports).

Modes (same model, batch 64 source + 64 target, SGD momentum 0.9 as a fused foreach update, GRL):
  --mode speed      : synthetic device-resident data; steps/s for the eager step and for the whole step
                      (forward, both losses, backward, SGD) captured in one CUDA graph and replayed (CUDA only);
                      median of --windows windows of --steps steps after warm-up. Prints one JSON line.
                      --method dann (default), cdan, mcc or dan: the step of that method, written here from its
                      paper as shift's methods/<name>.rs computes it (CDAN's randomized map of the 1200 x 10
                      features x softmax to 1024, MCC at T = 2.5, DAN's linear-time MK-MMD with five kernels);
                      rotation or simclr: the self-supervised pretraining steps on the 64 source images alone
                      (the four quarter turns and a 1200-100-100-4 head; two SimCLR views, a 1200-1200-128
                      projection and NT-Xent at 0.5), as methods/rotation.rs, methods/simclr.rs and views.rs do;
                      l2-sp, bss, lwf, delta or co-tuning: the fine-tuning regularisers' steps on the 64 labelled
                      images (TLlib's defaults; a frozen copy of the starting network; DELTA's attention over the
                      48 channels and Co-Tuning's relationship fixed, as they are between steps; Co-Tuning's
                      trainable copy of the label predictor), as methods/l2_sp.rs, bss.rs, lwf.rs, delta.rs and
                      co_tuning.rs do.
  --mode time-to    : MNIST -> MNIST-M with the paper's 20-epoch schedule (lr and lambda fed as device tensors),
                      target test accuracy every quarter epoch; wall time until it reaches --target (evaluations
                      included), for eager and (CUDA) graph steps. Prints one JSON line per step kind.
"""

import argparse
import importlib.util
import json
import math
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F


def load_reference(path):
    spec = importlib.util.spec_from_file_location("reference_dann", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class GradReverseT(torch.autograd.Function):
    """The reference's GRL with lambda in a device tensor, so the schedule can change it between replays."""

    @staticmethod
    def forward(ctx, x, lam):
        ctx.save_for_backward(lam)
        return x.view_as(x)

    @staticmethod
    def backward(ctx, g):
        (lam,) = ctx.saved_tensors
        return -lam * g, None


def mcc_loss(logits, t=2.5):
    p = torch.softmax(logits / t, dim=1)
    h = -(p * torch.log(p + 1e-5)).sum(1)
    w = (1 + torch.exp(-h)).detach()
    w = (len(w) * w / w.sum()).unsqueeze(1)
    c = (p * w).T @ p
    c = c / c.sum(0, keepdim=True)
    return (c.sum() - c.trace()) / c.shape[0]


def simclr_view(x, crop_min=0.2, strength=0.5, jitter_p=0.8, grey_p=0.2):
    """One SimCLR view of each image (shift's views.rs): random resized crop (bilinear, border), colour jitter
    (brightness, contrast, saturation) with probability 0.8, greyscale with probability 0.2, on (x + 1) / 2."""
    n = x.shape[0]
    area = torch.empty(n, device=x.device).uniform_(crop_min, 1.0)
    ratio = torch.empty(n, device=x.device).uniform_(math.log(3 / 4), math.log(4 / 3)).exp()
    w, h = (area * ratio).sqrt().clamp(max=1.0), (area / ratio).sqrt().clamp(max=1.0)
    cx = torch.empty(n, device=x.device).uniform_(-1, 1) * (1 - w)
    cy = torch.empty(n, device=x.device).uniform_(-1, 1) * (1 - h)
    z = torch.zeros(n, device=x.device)
    theta = torch.stack([w, z, cx, z, h, cy], 1).view(n, 2, 3)
    x = F.grid_sample(x, F.affine_grid(theta, list(x.shape), align_corners=False), padding_mode="border",
                      align_corners=False)
    u = ((x + 1) / 2).clamp(0, 1)
    luma = torch.tensor([0.299, 0.587, 0.114], device=x.device).view(1, 3, 1, 1)
    grey = lambda v: (v * luma).sum(1, keepdim=True)
    f = lambda: torch.empty(n, 1, 1, 1, device=x.device).uniform_(1 - 0.8 * strength, 1 + 0.8 * strength).clamp(min=0)
    j = (u * f()).clamp(0, 1)
    m = grey(j).mean((1, 2, 3), keepdim=True)
    j = ((j - m) * f() + m).clamp(0, 1)
    g = grey(j)
    j = ((j - g) * f() + g).clamp(0, 1)
    pick = (torch.rand(n, 1, 1, 1, device=x.device) < jitter_p).float()
    u = j * pick + u * (1 - pick)
    pick = (torch.rand(n, 1, 1, 1, device=x.device) < grey_p).float()
    u = grey(u).expand_as(u) * pick + u * (1 - pick)
    return u * 2 - 1


def nt_xent(z, tau=0.5):
    z = F.normalize(z, dim=1)
    n2 = z.shape[0]
    sim = (z @ z.t() / tau).masked_fill(torch.eye(n2, dtype=torch.bool, device=z.device), float("-inf"))
    return F.cross_entropy(sim, (torch.arange(n2, device=z.device) + n2 // 2) % n2)


def mk_mmd_linear(zs, zt):
    z = torch.cat([zs, zt])
    d = torch.cdist(z, z) ** 2
    mean = d.detach().mean()
    k = sum(torch.exp(-d / (2 * a * mean)) for a in [2.0 ** e for e in range(-3, 2)])
    b = len(zs)
    ss, tt, st, ts = k[:b, :b], k[b:, b:], k[:b, b:], k[b:, :b]
    nxt = lambda m: torch.diagonal(torch.roll(m, -1, 1))
    return (nxt(ss) + nxt(tt) - nxt(st) - nxt(ts)).mean()


class Step:
    """One train step of `method` over static input tensors; `graph=True` captures it once and replays it."""

    def __init__(self, ref, dev, b, graph, method="dann"):
        torch.manual_seed(0)
        self.dev, self.b, self.method = dev, b, method
        self.net = ref.Net().to(dev)
        if method.startswith("cdan"):
            # CDAN: the discriminator reads the randomized map (1024 values) instead of the 1200 features.
            self.net.dom = torch.nn.Sequential(torch.nn.Linear(1024, 100), torch.nn.ReLU(), torch.nn.Linear(100, 1)).to(dev)
            self.rf = torch.randn(1200, 1024, device=dev)
            self.rg = torch.randn(10, 1024, device=dev)
        self.head = None
        self.start = None
        if method in ("l2-sp", "bss", "lwf", "delta", "co-tuning"):
            import copy
            self.start = copy.deepcopy(self.net)
            for p in self.start.parameters():
                p.requires_grad_(False)
            self.attention = torch.full((48,), 1.0 / 48, device=dev)
            self.source_head = copy.deepcopy(self.net.cls)
            self.relationship = torch.full((10, 10), 0.1, device=dev)
        if method == "rotation":
            self.head = torch.nn.Sequential(torch.nn.Linear(1200, 100), torch.nn.ReLU(), torch.nn.Linear(100, 100),
                                            torch.nn.ReLU(), torch.nn.Linear(100, 4)).to(dev)
        elif method == "simclr":
            self.head = torch.nn.Sequential(torch.nn.Linear(1200, 1200), torch.nn.ReLU(),
                                            torch.nn.Linear(1200, 128)).to(dev)
        if self.start is not None:
            # A fine-tuning step: the label predictor and the features, the discriminator idle.
            self.params = [p for n, p in self.net.named_parameters() if not n.startswith("dom")]
            if method == "co-tuning":
                self.params += list(self.source_head.parameters())
        elif self.head is not None:
            # A pretext step trains the features and its head; the label predictor and discriminator do not run.
            self.params = [p for n, p in self.net.named_parameters() if n.startswith("c") and not n.startswith("cls")]
            self.params += list(self.head.parameters())
        else:
            self.params = [p for n, p in self.net.named_parameters() if method in ("dann", "cdan") or not n.startswith("dom")]
        self.bufs = [torch.zeros_like(p) for p in self.params]
        self.xs = torch.zeros(b, 3, 32, 32, device=dev)
        self.xt = torch.zeros(b, 3, 32, 32, device=dev)
        self.ys = torch.zeros(b, dtype=torch.long, device=dev)
        self.lr = torch.tensor(0.01, device=dev)
        self.lam = torch.tensor(0.0, device=dev)
        self.dl = torch.cat([torch.zeros(b, device=dev), torch.ones(b, device=dev)])
        self.graph = None
        self.want_graph = graph
        self.warm = 0

    def body(self):
        b = self.b
        if self.start is not None:
            f = self.net.features(self.xs)
            loss = F.cross_entropy(self.net.cls(f), self.ys)
            if self.method == "l2-sp":
                sp = [0.5 * ((p - p0) ** 2).sum() for (n, p), p0 in zip(self.net.named_parameters(),
                                                                         self.start.parameters())
                      if not n.startswith("dom")]
                loss = loss + 0.01 * sum(sp)
            elif self.method == "bss":
                loss = loss + 0.001 * torch.linalg.eigvalsh(f @ f.t())[:1].sum()
            elif self.method == "delta":
                with torch.no_grad():
                    f0 = self.start.features(self.xs)
                d = ((f - f0).view(b, 48, 25) ** 2).sum(2)
                fm = 0.5 * (48 * self.attention.view(1, 48) * d / 25).sum()
                head = sum(0.5 * (p ** 2).sum() for p in self.net.cls.parameters())
                loss = loss + 0.01 * fm + 0.01 * head
            elif self.method == "co-tuning":
                target = self.relationship[self.ys]
                loss = loss + 2.3 * -(target * F.log_softmax(self.source_head(f), 1)).sum(1).mean()
            else:
                with torch.no_grad():
                    old = self.start.cls(self.start.features(self.xs))
                new = self.start.cls(f)
                kl = F.kl_div(F.log_softmax(new / 3, 1), F.log_softmax(old / 3, 1), reduction="batchmean",
                              log_target=True)
                loss = loss + 4 * kl
            loss.backward()
            self.update()
            return
        if self.head is not None:
            if self.method == "rotation":
                x = torch.cat([torch.rot90(self.xs, r, dims=(2, 3)) for r in range(4)])
                r = torch.arange(4, device=x.device).repeat_interleave(b)
                loss = F.cross_entropy(self.head(self.net.features(x)), r)
            else:
                views = torch.cat([simclr_view(self.xs), simclr_view(self.xs)])
                loss = nt_xent(self.head(self.net.features(views)))
            loss.backward()
            self.update()
            return
        f = self.net.features(torch.cat([self.xs, self.xt]))
        logits = self.net.cls(f)
        lc = F.cross_entropy(logits[:b], self.ys)
        if self.method == "dann":
            ld = F.binary_cross_entropy_with_logits(self.net.dom(GradReverseT.apply(f, self.lam)).squeeze(1), self.dl)
        elif self.method == "cdan":
            g = torch.softmax(logits, dim=1).detach()
            h = (f @ self.rf) * (g @ self.rg) / 32.0
            ld = F.binary_cross_entropy_with_logits(self.net.dom(GradReverseT.apply(h, self.lam)).squeeze(1), self.dl)
        elif self.method == "mcc":
            ld = self.lam * mcc_loss(logits[b:])
        else:
            ld = self.lam * mk_mmd_linear(f[:b], f[b:])
        (lc + ld).backward()
        self.update()

    def update(self):
        with torch.no_grad():
            grads = [p.grad for p in self.params]
            torch._foreach_mul_(self.bufs, 0.9)
            torch._foreach_add_(self.bufs, grads)
            torch._foreach_add_(self.params, torch._foreach_mul(self.bufs, -self.lr))

    def __call__(self, xs, ys, xt, lr, lam):
        self.xs.copy_(xs)
        self.ys.copy_(ys)
        self.xt.copy_(xt)
        self.lr.fill_(lr)
        self.lam.fill_(lam)
        if self.graph is not None:
            self.graph.replay()
            return
        if not self.want_graph or self.warm < 3:
            # Eager (and, for the graph, warm-up on a side stream as PyTorch's whole-network capture recipe does).
            for p in self.params:
                p.grad = None
            if self.want_graph:
                s = torch.cuda.Stream()
                s.wait_stream(torch.cuda.current_stream())
                with torch.cuda.stream(s):
                    self.body()
                torch.cuda.current_stream().wait_stream(s)
            else:
                self.body()
            self.warm += 1
            return
        for p in self.params:
            p.grad = None
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.body()
        self.graph.replay()  # capture only records: this step runs now


def sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize()


def speed(ref, dev, a):
    n, b = 8192, 64
    torch.manual_seed(0)
    xs = torch.rand(n, 3, 32, 32, device=dev)
    xt = torch.rand(n, 3, 32, 32, device=dev)
    ys = torch.randint(10, (n,), device=dev)
    kinds = ["eager"] + (["graph"] if dev.type == "cuda" else [])
    out = {"device": str(dev), "torch": torch.__version__, "cudnn_benchmark": torch.backends.cudnn.benchmark,
           "method": a.method}
    if dev.type == "cuda":
        out["card"] = torch.cuda.get_device_name(dev)
    for kind in kinds:
        step = Step(ref, dev, b, graph=(kind == "graph"), method=a.method)

        def run(k, start):
            for i in range(start, start + k):
                off = (i * b) % (n - b)
                step(xs[off:off + b], ys[off:off + b], xt[off:off + b], 0.01, 0.5)
            sync(dev)

        run(50, 0)
        rates = []
        for w in range(a.windows):
            t = time.perf_counter()
            run(a.steps, 50 + w * a.steps)
            rates.append(a.steps / (time.perf_counter() - t))
        out[kind] = {"steps_per_s": statistics.median(rates), "windows": rates}
    print(json.dumps(out))


def evaluate(net, x, y, b=1000):
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), b):
            correct += (net.cls(net.features(x[i:i + b])).argmax(1) == y[i:i + b]).sum().item()
    return correct / len(x)


def time_to(ref, dev, a):
    xs = ref.to_input(ref.load_idx(f"{a.mnist}/train-images-idx3-ubyte.gz"), dev)
    ys = torch.from_numpy(ref.load_idx(f"{a.mnist}/train-labels-idx1-ubyte.gz").astype("int64")).to(dev)
    xt = ref.to_input(ref.load_mnistm(a.mnistm, "train")[0], dev)
    xte, yte = ref.load_mnistm(a.mnistm, "test")
    xte, yte = ref.to_input(xte, dev), torch.from_numpy(yte).to(dev)
    b = 64
    steps_per_epoch = len(xs) // b
    quarter = steps_per_epoch // 4
    total = 80 * quarter
    kinds = ["eager"] + (["graph"] if dev.type == "cuda" else [])
    for kind in kinds:
        torch.manual_seed(0)
        step = Step(ref, dev, b, graph=(kind == "graph"))
        sync(dev)
        t0 = time.perf_counter()
        reached, acc, i = None, 0.0, 0
        for q in range(80):
            ps = torch.randperm(len(xs), device=dev)[: quarter * b]
            pt = torch.randint(len(xt), (quarter * b,), device=dev)
            for k in range(quarter):
                p = i / total
                si, ti = ps[k * b:(k + 1) * b], pt[k * b:(k + 1) * b]
                step(xs[si], ys[si], xt[ti], 0.01 / (1 + 10 * p) ** 0.75, 2 / (1 + math.exp(-10 * p)) - 1)
                i += 1
            acc = evaluate(step.net, xte, yte)
            if acc >= a.target:
                reached = (time.perf_counter() - t0, (q + 1) / 4)
                break
        r = {"step": kind, "target": a.target, "last_acc": round(acc, 4), "device": str(dev)}
        r.update({"seconds": reached[0], "epochs": reached[1]} if reached else {"seconds": None})
        print(json.dumps(r))


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=["speed", "time-to"], default="speed")
    ap.add_argument("--method", choices=["dann", "cdan", "mcc", "dan", "rotation", "simclr", "l2-sp", "bss", "lwf", "delta",
                                         "co-tuning"], default="dann",
                    help="speed mode: the method whose step is timed")
    ap.add_argument("--reference", default=str(Path(__file__).resolve().parents[2] / "../shared/bench/reference_dann.py"))
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--windows", type=int, default=5)
    ap.add_argument("--mnist", default="datasets/mnist")
    ap.add_argument("--mnistm", default="datasets/mnist_m")
    ap.add_argument("--target", type=float, default=0.75)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--cudnn-benchmark", action="store_true",
                    help="let cuDNN time its algorithms (shift's setting without --deterministic); default: PyTorch's (off)")
    a = ap.parse_args()
    torch.backends.cudnn.benchmark = a.cudnn_benchmark
    ref = load_reference(a.reference)
    dev = torch.device(a.device)
    if a.mode == "speed":
        speed(ref, dev, a)
    else:
        time_to(ref, dev, a)
