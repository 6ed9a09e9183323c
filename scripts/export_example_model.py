#!/usr/bin/env python3
"""Write an example TorchScript model that `trainer` trains with no Python at run time.

The model is a small CNN for 28x28 grey images (Fashion-MNIST, MNIST) with the two
methods trainer calls when a module defines them: training_step(batch) returns the
loss, and validation_step(batch) returns the loss and a dict of metrics. `batch` is
the (inputs, targets) pair of one batch, as trainer's data loaders make it.

Usage (Debian's PyTorch is in /usr/bin/python3):
    /usr/bin/python3 scripts/export_example_model.py example_model.pt
    trainer fit --config configs/fashion_mnist_torchscript.yaml --model.init_args.path=example_model.pt
"""

import argparse
from typing import Dict, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class SmallCnn(nn.Module):
    """Two conv blocks (the first with batch norm), then two linear layers."""

    def __init__(self, classes: int) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1),
            nn.BatchNorm2d(16),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(32 * 7 * 7, 64),
            nn.ReLU(),
            nn.Dropout(0.1),
            nn.Linear(64, classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))

    @torch.jit.export
    def training_step(self, batch: Tuple[Tensor, Tensor]) -> Tensor:
        inputs, targets = batch
        return F.cross_entropy(self.forward(inputs), targets)

    @torch.jit.export
    def validation_step(self, batch: Tuple[Tensor, Tensor]) -> Tuple[Tensor, Dict[str, Tensor]]:
        inputs, targets = batch
        logits = self.forward(inputs)
        accuracy = (logits.argmax(1) == targets).float().mean()
        return F.cross_entropy(logits, targets), {"acc": accuracy}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("output", help="TorchScript file to write")
    parser.add_argument("--classes", type=int, default=10, help="number of classes (default: 10)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the initial weights (default: 0)")
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    scripted = torch.jit.script(SmallCnn(args.classes))
    scripted.save(args.output)
    parameters = sum(p.numel() for p in scripted.parameters())
    print(f"wrote {args.output}: SmallCnn, {parameters} parameters, {args.classes} classes")


if __name__ == "__main__":
    main()
