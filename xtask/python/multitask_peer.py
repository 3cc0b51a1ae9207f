"""PyTorch peer of `shift bench train --backbone multi-lenet`: the train step of the multitask weightings on
Sener & Koltun's MultiLeNet (isl-org/MultiObjectiveOptimization, `multi_task/models/multi_lenet.py`: conv 1 -> 10
(5x5), max-pool 2, ReLU; conv 10 -> 20 (5x5), a channel mask shared by the batch, max-pool 2, ReLU; Linear 320 ->
50, ReLU; per task Linear 50 -> 50, ReLU, a 0/1 mask, Linear 50 -> 10), written here to do the work shift's step
does: equal weights (the mean of the two cross-entropies), uncertainty weighting (sum exp(-s) L + s / 2, s trained),
MGDA-UB (each task's gradient at the shared representation, the two-task min-norm weights in closed form, the
weighted loss back-propagated), PCGrad (each task's gradient on the trunk's parameters, projected where they
conflict, summed and set as the trunk's gradients) and the single-task baseline (task 0's loss). The batch is
shift's: 256 synthetic 1 x 28 x 28 images with a class for each of two tasks, drawn from 8,192 device-resident
ones; SGD with momentum 0.9 at 1e-3. Steps/s as the median of --windows windows of --steps steps after 50 warm-up
steps. Prints one JSON line.
"""

import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn


class MultiLeNet(nn.Module):
    def __init__(self, tasks=2):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 10, 5)
        self.conv2 = nn.Conv2d(10, 20, 5)
        self.fc = nn.Linear(320, 50)
        self.heads = nn.ModuleList(nn.Sequential(nn.Linear(50, 50), nn.Linear(50, 10)) for _ in range(tasks))

    def trunk(self, x):
        h = F.relu(F.max_pool2d(self.conv1(x), 2))
        h = self.conv2(h)
        h = h * torch.bernoulli(torch.full((1, h.shape[1], 1, 1), 0.5, device=h.device))
        h = F.relu(F.max_pool2d(h, 2)).flatten(1)
        return F.relu(self.fc(h))

    def head(self, t, z):
        fc1, fc2 = self.heads[t]
        h = F.relu(fc1(z))
        return fc2(h * torch.bernoulli(torch.full_like(h, 0.5)))


def min_norm_2(g1, g2):
    # Sener & Koltun's Algorithm 1: the weight on g1 of the minimum-norm point of the segment.
    v11, v12, v22 = g1 @ g1, g1 @ g2, g2 @ g2
    if v12 >= v11:
        return 1.0
    if v12 >= v22:
        return 0.0
    return float((v22 - v12) / (v11 + v22 - 2 * v12))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--windows", type=int, default=5)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--method", choices=["equal", "uncertainty", "mgda-ub", "pcgrad", "single-task"], required=True)
    a = ap.parse_args()
    dev = torch.device(a.device)
    torch.manual_seed(0)
    n, b = 8192, 256
    x_all = torch.randn(n, 1, 28, 28, device=dev)
    y_all = torch.randint(10, (n, 2), device=dev)
    net = MultiLeNet().to(dev)
    params = list(net.parameters())
    log_var = torch.zeros(2, device=dev, requires_grad=True)
    if a.method == "uncertainty":
        params.append(log_var)
    opt = torch.optim.SGD(params, lr=1e-3, momentum=0.9)
    shared = [net.conv1.weight, net.conv1.bias, net.conv2.weight, net.conv2.bias, net.fc.weight, net.fc.bias]

    def step():
        rows = torch.randint(n, (b,), device=dev)
        x, y = x_all[rows], y_all[rows]
        z = net.trunk(x)
        losses = [F.cross_entropy(net.head(t, z), y[:, t]) for t in range(2)]
        opt.zero_grad()
        if a.method == "equal":
            loss = (losses[0] + losses[1]) / 2
        elif a.method == "single-task":
            loss = losses[0]
        elif a.method == "uncertainty":
            loss = ((-log_var).exp() * torch.stack(losses) + 0.5 * log_var).sum()
        elif a.method == "mgda-ub":
            g = [torch.autograd.grad(l, [z], retain_graph=True)[0].flatten() for l in losses]
            w = min_norm_2(g[0], g[1])
            loss = w * losses[0] + (1 - w) * losses[1]
        else:
            flat = []
            for l in losses:
                gs = torch.autograd.grad(l / 2, shared, retain_graph=True)
                flat.append(torch.cat([gg.flatten() for gg in gs]))
            order = [torch.randperm(2).tolist() for _ in range(2)]
            total = torch.zeros_like(flat[0])
            for i in range(2):
                gi = flat[i].clone()
                for j in order[i]:
                    if j == i:
                        continue
                    dot = gi @ flat[j]
                    if dot < 0:
                        gi = gi - dot / (flat[j] @ flat[j]) * flat[j]
                total += gi
            loss = (losses[0] + losses[1]) / 2
            loss.backward()
            at = 0
            for p in shared:
                p.grad.copy_(total[at:at + p.numel()].view_as(p))
                at += p.numel()
            opt.step()
            return
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
