"""PyTorch peer of `shift bench train --backbone audio-cnn`: the DANN train step on the audio CNN of the spoken
digits (crates/models/src/audio_cnn.rs), written here in PyTorch with the same layers, the same batch (32 source +
32 target log-mel spectrograms of 40 bands and 101 frames) and the same step as shift's eager step on a backbone
with batch norm: the source and the target pass the network as separate batches, the domain discriminator
(Linear 128-100, ReLU, Linear 100-1) reads both behind a gradient reversal layer, SGD with momentum 0.9 (foreach).
Synthetic device-resident data; steps/s as the median of --windows windows of --steps steps after 50 warm-up
steps. Prints one JSON line.
"""

import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn


class GradReverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, lam):
        ctx.lam = lam
        return x.view_as(x)

    @staticmethod
    def backward(ctx, g):
        return -ctx.lam * g, None


class AudioCnn(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.c1, self.bn1 = nn.Conv1d(40, 64, 5, padding=2), nn.BatchNorm1d(64)
        self.c2, self.bn2 = nn.Conv1d(64, 64, 3, padding=1), nn.BatchNorm1d(64)
        self.c3, self.bn3 = nn.Conv1d(64, 128, 3, padding=1), nn.BatchNorm1d(128)
        self.query = nn.Parameter(torch.randn(128))
        self.pool = nn.MultiheadAttention(128, 4, batch_first=True)
        self.classifier = nn.Linear(128, classes)

    def features(self, x):
        h = F.max_pool1d(F.relu(self.bn1(self.c1(x))), 2)
        h = F.max_pool1d(F.relu(self.bn2(self.c2(h))), 2)
        s = F.relu(self.bn3(self.c3(h))).transpose(1, 2)
        q = self.query.expand(len(x), 1, 128)
        return self.pool(q, s, s, need_weights=False)[0].squeeze(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--windows", type=int, default=5)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--cudnn-benchmark", action="store_true",
                    help="let cuDNN time its algorithms, as shift's runs do unless --deterministic")
    a = ap.parse_args()
    dev = torch.device(a.device)
    torch.backends.cudnn.benchmark = a.cudnn_benchmark
    torch.manual_seed(0)
    n, b = 2048, 32
    xs, xt = torch.randn(n, 40, 101, device=dev), torch.randn(n, 40, 101, device=dev)
    ys = torch.randint(10, (n,), device=dev)
    net = AudioCnn().to(dev)
    dom = nn.Sequential(nn.Linear(128, 100), nn.ReLU(), nn.Linear(100, 1)).to(dev)
    opt = torch.optim.SGD(list(net.parameters()) + list(dom.parameters()), lr=0.01, momentum=0.9, foreach=True)
    d = torch.cat([torch.zeros(b), torch.ones(b)]).to(dev)

    def step(i):
        off = (i * b) % (n - b)
        opt.zero_grad(set_to_none=True)
        fs, ft = net.features(xs[off:off + b]), net.features(xt[off:off + b])
        lc = F.cross_entropy(net.classifier(fs), ys[off:off + b])
        ld = F.binary_cross_entropy_with_logits(dom(GradReverse.apply(torch.cat([fs, ft]), 0.5)).squeeze(1), d)
        (lc + ld).backward()
        opt.step()

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)

    for i in range(50):
        step(i)
    sync()
    rates = []
    for w in range(a.windows):
        t = time.perf_counter()
        for i in range(a.steps):
            step(50 + w * a.steps + i)
        sync()
        rates.append(a.steps / (time.perf_counter() - t))
    print(json.dumps({"device": str(dev), "torch": torch.__version__, "threads": torch.get_num_threads(),
                      "eager": {"steps_per_s": statistics.median(rates), "windows": rates}}))


if __name__ == "__main__":
    main()
