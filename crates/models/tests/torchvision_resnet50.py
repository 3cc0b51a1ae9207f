"""Reference for shift's ResNet-50 parity test: torchvision's resnet50 with seeded random weights.

Usage: python torchvision_resnet50.py OUT_DIR
Writes OUT_DIR/weights.pth (the state_dict, as torch.save writes it, like the published ImageNet file) and
OUT_DIR/reference.safetensors (input [2,3,224,224], features [2,2048] before fc, logits [2,1000]), f32, eval mode.
"""

import sys
from pathlib import Path

import torch
import torchvision
from safetensors.torch import save_file


def main() -> None:
    out = Path(sys.argv[1])
    torch.manual_seed(0)
    model = torchvision.models.resnet50(weights=None)
    # Random batch-norm statistics and affine terms, so evaluation-mode batch norm is not the identity.
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.1, 0.1)
    model.eval()
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        trunk = torch.nn.Sequential(*list(model.children())[:-1])
        features = torch.flatten(trunk(x), 1)
        logits = model(x)
    torch.save(model.state_dict(), out / "weights.pth")
    save_file({"input": x, "features": features, "logits": logits}, str(out / "reference.safetensors"))
    print(f"torch {torch.__version__} torchvision {torchvision.__version__}")


if __name__ == "__main__":
    main()
