"""PyTorch peer of `shift bench train --backbone mnist-cnn`: the multi-domain train step of domain generalisation on
DomainBed's MNIST ConvNet (`networks.MNIST_CNN`: conv 3x3 64 / 128 stride 2 / 128 / 128, each ReLU then GroupNorm(8),
mean pool, Linear(128, 2)), the losses of DomainBed's `algorithms.py` (ERM, IRM, CORAL, DANN) written here to do the
work shift's step does: one forward over the two domains' blocks (DomainBed's CORAL forwards each domain apart, the
same function on this group-norm net), IRM's penalty by autograd at weight 1 (the first 500 steps, which the timed
steps fall in), DANN's two Adams (betas (0.5, 0.9)) stepped in turn without the gradient penalty's weight-0 term,
its discriminator DomainBed's MLP 128-256-256-2. The batch is shift's: 64 synthetic 2 x 28 x 28 images from each of
two training domains, drawn with replacement from device-resident data; Adam at 1e-3. Steps/s as the median of
--windows windows of --steps steps after 50 warm-up steps. Prints one JSON line per method.
"""

import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F
from torch import autograd, nn


class MnistCnn(nn.Module):
    def __init__(self, channels=2, classes=2):
        super().__init__()
        widths = [(channels, 64, 1), (64, 128, 2), (128, 128, 1), (128, 128, 1)]
        self.convs = nn.ModuleList(nn.Conv2d(i, o, 3, s, padding=1) for i, o, s in widths)
        self.norms = nn.ModuleList(nn.GroupNorm(8, o) for _, o, _ in widths)
        self.classifier = nn.Linear(128, classes)

    def features(self, x):
        for conv, norm in zip(self.convs, self.norms):
            x = norm(F.relu(conv(x)))
        return x.mean(dim=(2, 3))


def irm_penalty(logits, y):
    # DomainBed's IRM._irm_penalty: the gradient of the risk at a dummy scale 1, on the two halves of the batch.
    scale = torch.tensor(1.0, device=logits.device, requires_grad=True)
    g1 = autograd.grad(F.cross_entropy(logits[::2] * scale, y[::2]), [scale], create_graph=True)[0]
    g2 = autograd.grad(F.cross_entropy(logits[1::2] * scale, y[1::2]), [scale], create_graph=True)[0]
    return torch.sum(g1 * g2)


def coral(x, y):
    # DomainBed's MMD.mmd with kernel_type "mean_cov".
    mean_x, mean_y = x.mean(0, keepdim=True), y.mean(0, keepdim=True)
    cent_x, cent_y = x - mean_x, y - mean_y
    cova_x = (cent_x.t() @ cent_x) / (len(x) - 1)
    cova_y = (cent_y.t() @ cent_y) / (len(y) - 1)
    return (mean_x - mean_y).pow(2).mean() + (cova_x - cova_y).pow(2).mean()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--windows", type=int, default=5)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--method", choices=["erm", "irm", "dg-coral", "dg-dann"], required=True)
    a = ap.parse_args()
    dev = torch.device(a.device)
    torch.manual_seed(0)
    n, b, domains = 4096, 64, 2
    data = [(torch.randn(n, 2, 28, 28, device=dev), torch.randint(2, (n,), device=dev)) for _ in range(domains)]
    net = MnistCnn().to(dev)
    params = list(net.parameters())
    if a.method == "dg-dann":
        disc = nn.Sequential(nn.Linear(128, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, domains))
        disc = disc.to(dev)
        disc_opt = torch.optim.Adam(disc.parameters(), lr=1e-3, betas=(0.5, 0.9))
        gen_opt = torch.optim.Adam(params, lr=1e-3, betas=(0.5, 0.9))
        domain = torch.arange(domains, device=dev).repeat_interleave(b)
    else:
        opt = torch.optim.Adam(params, lr=1e-3)
    at = [0]

    def step():
        blocks = []
        for x, y in data:
            rows = torch.randint(n, (b,), device=dev)
            blocks.append((x[rows], y[rows]))
        x, y = torch.cat([x for x, _ in blocks]), torch.cat([y for _, y in blocks])
        at[0] += 1
        if a.method == "erm":
            loss = F.cross_entropy(net.classifier(net.features(x)), y)
        elif a.method == "irm":
            logits = net.classifier(net.features(x))
            nll = penalty = 0.0
            for i in range(domains):
                lg, yy = logits[i * b:(i + 1) * b], y[i * b:(i + 1) * b]
                nll = nll + F.cross_entropy(lg, yy)
                penalty = penalty + irm_penalty(lg, yy)
            # Before anneal_iters (500) the penalty weight is 1.
            loss = nll / domains + penalty / domains
        elif a.method == "dg-coral":
            f = net.features(x)
            logits = net.classifier(f)
            objective = sum(F.cross_entropy(logits[i * b:(i + 1) * b], y[i * b:(i + 1) * b]) for i in range(domains))
            penalty = coral(f[:b], f[b:])
            loss = objective / domains + penalty
        else:
            f = net.features(x)
            disc_loss = F.cross_entropy(disc(f), domain)
            if at[0] % 2 == 1:
                disc_opt.zero_grad()
                disc_loss.backward()
                disc_opt.step()
            else:
                gen_loss = F.cross_entropy(net.classifier(f), y) - disc_loss
                disc_opt.zero_grad()
                gen_opt.zero_grad()
                gen_loss.backward()
                gen_opt.step()
            return
        opt.zero_grad()
        loss.backward()
        opt.step()

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)

    for _ in range(50):
        step()
    sync()
    rates = []
    for _ in range(a.windows):
        t = time.perf_counter()
        for _ in range(a.steps):
            step()
        sync()
        rates.append(a.steps / (time.perf_counter() - t))
    print(json.dumps({"method": a.method, "eager": {"steps_per_s": statistics.median(rates), "windows": rates}}))


if __name__ == "__main__":
    main()
