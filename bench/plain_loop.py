"""The plain training loop of bench/plain_loop.cpp, written in eager PyTorch.

Same network, data, validation split, epoch orders, optimizer (Adam, lr 1e-3) and
batch size (128) as `trainer fit` with bench/configs/fashion_mnist_{mlp,cnn}.yaml, so the
first step's loss matches the C++ programs. Run it with an interpreter that has
torch, such as Debian's /usr/bin/python3 with python3-torch, which is built on the
same LibTorch as the C++ programs.

Prints "step=1 loss=..." right after the first step, then one summary line:
"steps=N samples=N loop_seconds=S samples_per_second=R last_loss=L".
Exits with code 3 and a "torch is not installed" message when torch is missing.
"""

import argparse
import gzip
import struct
import sys
import time

try:
    import torch
    from torch import nn
except ImportError as error:
    print(f"plain_loop.py: torch is not installed for {sys.executable} ({error})", file=sys.stderr)
    sys.exit(3)

BATCH_SIZE = 128
VAL_SIZE = 5000
MEAN = 0.2860  # Fashion-MNIST training pixels scaled to [0, 1]
STD = 0.3530


def read_idx(path):
    """Return the unsigned-byte IDX array in `path` (gzipped) as a uint8 tensor."""
    with gzip.open(path, "rb") as file:
        data = file.read()
    zero, type_code, ndims = struct.unpack(">HBB", data[:4])
    if zero != 0 or type_code != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte IDX file")
    dims = struct.unpack(f">{ndims}I", data[4 : 4 + 4 * ndims])
    return torch.frombuffer(bytearray(data[4 + 4 * ndims :]), dtype=torch.uint8).reshape(dims)


def mix_seed(values):
    """Hash `values` into one seed exactly as trainer::data::mix_seed (lib/data/sampler.cpp) does."""
    mask = (1 << 64) - 1
    golden = 0x9E3779B97F4A7C15
    state = golden
    for value in values:
        state ^= (value + golden + (state << 6) + (state >> 2)) & mask
        state = (state + golden) & mask
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        state = z ^ (z >> 31)
    return state


def permutation(size, seed):
    generator = torch.Generator()
    generator.manual_seed(seed)
    return torch.randperm(size, generator=generator)


def build_model(name):
    """Build the layers in the order lib/models does, so the same seed draws the same weights."""
    if name == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 7 * 7, 64), nn.ReLU(), nn.Linear(64, 10),
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", choices=["mlp", "cnn"], default="cnn")
    parser.add_argument("--steps", type=int, default=300, help="optimizer steps to run")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--root", default="/usr/share/datasets/fashion-mnist")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    images = read_idx(f"{args.root}/train-images-idx3-ubyte.gz")
    labels = read_idx(f"{args.root}/train-labels-idx1-ubyte.gz").long()
    images = images.reshape(images.shape[0], 1, images.shape[1], images.shape[2])
    train_indices = permutation(images.shape[0], args.seed)[VAL_SIZE:]
    inputs = images.index_select(0, train_indices).float().div_(255.0).sub_(MEAN).div_(STD)
    targets = labels.index_select(0, train_indices)
    train_size = inputs.shape[0]

    model = build_model(args.model)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()

    loss = None
    step = 0
    samples = 0
    start = time.perf_counter()
    epoch = 0
    while step < args.steps:
        order = permutation(train_size, mix_seed([args.seed, epoch]))
        for begin in range(0, train_size, BATCH_SIZE):
            if step >= args.steps:
                break
            indices = order[begin : begin + BATCH_SIZE]
            batch_inputs = inputs.index_select(0, indices)
            batch_targets = targets.index_select(0, indices)

            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(batch_inputs), batch_targets)
            loss.backward()
            optimizer.step()

            step += 1
            samples += batch_targets.shape[0]
            if step == 1:
                print(f"step=1 loss={loss.item():.9g}", flush=True)
        epoch += 1
    seconds = time.perf_counter() - start

    rate = samples / seconds if seconds > 0 else 0.0
    last_loss = loss.item() if loss is not None else 0.0
    print(f"steps={step} samples={samples} loop_seconds={seconds:.6f} "
          f"samples_per_second={rate:.1f} last_loss={last_loss:.9g}")


if __name__ == "__main__":
    main()
