"""Paired differences of a fine-tuning experiment's regularised rows against their plain rows.

Reads the `results.json` that `shift experiment finetune --regulariser ...` writes and prints, for every row with
a regulariser, its target accuracy minus the same row's without it, seed by seed on the same labelled subset:
the mean difference over seeds and how many seeds it is above 0, one column per label budget (markdown).

    python3 scripts/finetune_paired.py runs/ft-reg/results.json
"""
import json
import sys


def main(path):
    doc = json.load(open(path))
    acc = {}
    for r in doc["runs"]:
        key = (r["policy"], r.get("pretraining"), r.get("regulariser"), r["labels_per_class"], r["seed"])
        acc[key] = r["target_acc"]
    ks = sorted({k[3] for k in acc}, key=lambda k: float("inf") if k is None else k)
    seeds = sorted({k[4] for k in acc})
    rows = sorted({k[:3] for k in acc if k[2] is not None}, key=lambda r: (r[2], r[0], r[1] or ""))
    name = lambda k: "all" if k is None else str(k)
    print("| row | " + " | ".join(f"k={name(k)}" for k in ks) + " |")
    print("|---|" + "---|" * len(ks))
    for policy, pre, reg in rows:
        cells = []
        for k in ks:
            d = [acc[(policy, pre, reg, k, s)] - acc[(policy, pre, None, k, s)] for s in seeds
                 if (policy, pre, reg, k, s) in acc and (policy, pre, None, k, s) in acc]
            cells.append(f"{sum(d) / len(d):+.4f} ({sum(x > 0 for x in d)}/{len(d)})" if d else "-")
        label = policy + (f" ({pre})" if pre else "") + f" + {reg}"
        print(f"| {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python3 scripts/finetune_paired.py RESULTS_JSON")
    main(sys.argv[1])
