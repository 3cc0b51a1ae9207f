"""Converts a PyTorch state_dict file (torch.save, e.g. torchvision's resnet50-0676ba61.pth) to safetensors.

Usage: python state_dict_to_safetensors.py IN.pth OUT.safetensors
Reads with weights_only=True (no code in the file runs), keeps every tensor under its own name (torchvision's
`conv1.weight`, `layer1.0.bn1.running_mean`, ...), writes OUT atomically. Exits 2 with a message naming IN on
input it cannot convert.
"""

import os
import sys

import torch
from safetensors.torch import save_file


def fail(msg: str) -> None:
    print(f"{sys.argv[1]}: {msg}", file=sys.stderr)
    sys.exit(2)


def main() -> None:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    src, dst = sys.argv[1], sys.argv[2]
    try:
        state = torch.load(src, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unreadable file is reported the same way
        fail(f"not a readable torch.save file: {e}")
    if not isinstance(state, dict):
        fail(f"holds a {type(state).__name__}, not a state_dict (a dict of named tensors)")
    tensors = {}
    for name, value in state.items():
        if not isinstance(value, torch.Tensor):
            hint = " (a nested dict: save the state_dict itself)" if isinstance(value, dict) else ""
            fail(f"entry `{name}` is a {type(value).__name__}, not a tensor{hint}")
        tensors[name] = value.detach().contiguous()
    tmp = dst + ".tmp"
    save_file(tensors, tmp, metadata={"source": os.path.basename(src)})
    os.replace(tmp, dst)
    print(f"{len(tensors)} tensors, {sum(t.numel() for t in tensors.values()):,} values -> {dst}")


if __name__ == "__main__":
    main()
