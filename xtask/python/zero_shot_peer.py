"""PyTorch peer of `shift bench zero-shot`: the same fits and scoring of the zero-shot methods, written here in
PyTorch from the papers' formulas, on synthetic features of the same sizes (ESZSL: X^T X, X^T Y S and the 49
solves of the 7 x 7 grid of gamma and lambda in double precision, Romera-Paredes & Torr, ICML 2015; DAP: seven
logistic attribute classifiers fitted together full-batch by 500 Adam iterations at 0.05 from zero, Lampert et al.,
CVPR 2009), each the median of --repeats runs. Prints one JSON line.
"""

import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F

CODES = torch.tensor([
    [1, 1, 1, 1, 1, 1, 0], [0, 1, 1, 0, 0, 0, 0], [1, 1, 0, 1, 1, 0, 1], [1, 1, 1, 1, 0, 0, 1],
    [0, 1, 1, 0, 0, 1, 1], [1, 0, 1, 1, 0, 1, 1], [1, 0, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0, 0],
    [1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 1, 1]], dtype=torch.float32)


def median_s(repeats, f):
    t = []
    for _ in range(repeats):
        start = time.perf_counter()
        f()
        t.append(time.perf_counter() - start)
    return statistics.median(t)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--examples", type=int, default=42000)
    a = ap.parse_args()
    torch.manual_seed(0)
    n, d = a.examples, 1200
    seen = CODES[:7]
    x = torch.randn(n, d)
    y = torch.arange(n) % 7
    xd, yd = x[: n // 6], y[: n // 6]
    test = torch.randn(10000, d)
    grid = [1e-3, 1e-2, 1e-1, 1.0, 1e1, 1e2, 1e3]

    def eszsl_problem():
        xx, s = x.double(), seen.double()
        targets = F.one_hot(y, 7).double() * 2 - 1
        return xx.T @ xx, xx.T @ targets @ s, s.T @ s

    def solve(p, g, l):
        gram, xtys, sts = p
        v = torch.linalg.solve(gram + g * torch.eye(d, dtype=torch.float64), xtys)
        return torch.linalg.solve(sts + l * torch.eye(7, dtype=torch.float64), v.T).T

    def eszsl():
        p = eszsl_problem()
        for g in grid:
            for l in grid:
                solve(p, g, l)

    v = solve(eszsl_problem(), 1.0, 1.0)

    def eszsl_score():
        (test.double() @ v @ CODES.double().T).argmax(-1)

    def dap_fit():
        w = torch.zeros(d, 7, requires_grad=True)
        b = torch.zeros(7, requires_grad=True)
        opt = torch.optim.Adam([w, b], lr=0.05)
        targets = seen[yd]
        for _ in range(500):
            loss = F.binary_cross_entropy_with_logits(xd @ w + b, targets, reduction="sum") / len(xd) \
                + 1e-3 / 2 * w.square().sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
        return w.detach(), b.detach()

    w, b = dap_fit()
    prior = seen.mean(0)

    def dap_score():
        logits = test @ w + b
        s = CODES
        score = F.logsigmoid(logits) @ s.T + F.logsigmoid(-logits) @ (1 - s).T
        score = score - (prior.log() @ s.T + (1 - prior).log() @ (1 - s).T)
        score.argmax(-1)

    print(json.dumps({
        "threads": torch.get_num_threads(),
        "eszsl_fit_grid": median_s(a.repeats, eszsl),
        "eszsl_score": median_s(a.repeats, eszsl_score),
        "dap_fit": median_s(a.repeats, dap_fit),
        "dap_score": median_s(a.repeats, dap_score),
    }))


if __name__ == "__main__":
    main()
