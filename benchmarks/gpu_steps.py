"""Training steps of tinygrad_nv against PyTorch on the same device, in the manner of nanoGPT's
bench.py: build the same model in both, warm up, synchronise, time a fixed number of steps,
print the median ms per step, the ratio to PyTorch and both losses after the run.

    python benchmarks/gpu_steps.py                     # cuda (with torch.cuda) where there is one
    python benchmarks/gpu_steps.py --device cpu --steps 2 --warmup 1   # a smoke run anywhere

Models: an MLP 784-256-128-10 with cross-entropy and Adam (batch 256); a CNN (two 3x3 conv
layers with max pooling, 28x28 inputs) with SGD and momentum (batch 128); a transformer
encoder layer (d_model 128, 4 heads, sequence 64) with a linear head and AdamW (batch 32).
Without PyTorch only tinygrad_nv's times are printed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

import tinygrad_nv.nn as nn  # noqa: E402
import tinygrad_nv.nn.functional as F  # noqa: E402
import tinygrad_nv.optim as optim  # noqa: E402
from tinygrad_nv import Tensor  # noqa: E402
from tinygrad_nv.backend import cuda_unavailable_reason, get_backend  # noqa: E402


def tiny_models(scale: int) -> dict[str, Callable]:
    """name -> () -> (model, optimizer, loss_fn) for tinygrad_nv; `scale` divides batches."""
    def mlp():
        model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                              nn.Linear(128, 10))
        return model, lambda p: optim.Adam(p, lr=1e-3), (256 // scale, 784), 10

    def cnn():
        model = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Flatten(), nn.Linear(32 * 7 * 7, 10))
        return model, lambda p: optim.SGD(p, lr=0.05, momentum=0.9), (128 // scale, 1, 28, 28), 10

    def transformer():
        layer = nn.TransformerEncoderLayer(128, 4, dim_feedforward=256, dropout=0.0,
                                           batch_first=True)
        model = nn.Sequential(layer, nn.Flatten(), nn.Linear(64 * 128, 10))
        return model, lambda p: optim.AdamW(p, lr=1e-3), (32 // scale, 64, 128), 10

    return {"mlp": mlp, "cnn": cnn, "transformer": transformer}


def torch_models(torch, scale: int) -> dict[str, Callable]:
    tnn, toptim = torch.nn, torch.optim

    def mlp():
        model = tnn.Sequential(tnn.Linear(784, 256), tnn.ReLU(), tnn.Linear(256, 128), tnn.ReLU(),
                               tnn.Linear(128, 10))
        return model, lambda p: toptim.Adam(p, lr=1e-3), (256 // scale, 784), 10

    def cnn():
        model = tnn.Sequential(tnn.Conv2d(1, 16, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(2),
                               tnn.Conv2d(16, 32, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(2),
                               tnn.Flatten(), tnn.Linear(32 * 7 * 7, 10))
        return (model, lambda p: toptim.SGD(p, lr=0.05, momentum=0.9),
                (128 // scale, 1, 28, 28), 10)

    def transformer():
        layer = tnn.TransformerEncoderLayer(128, 4, dim_feedforward=256, dropout=0.0,
                                            batch_first=True)
        model = tnn.Sequential(layer, tnn.Flatten(), tnn.Linear(64 * 128, 10))
        return model, lambda p: toptim.AdamW(p, lr=1e-3), (32 // scale, 64, 128), 10

    return {"mlp": mlp, "cnn": cnn, "transformer": transformer}


def time_tinygrad(make, device: str, steps: int, warmup: int) -> tuple[float, float]:
    """(median ms per step, loss after the run)."""
    model, make_opt, shape, classes = make()
    model = model.to(device)
    opt = make_opt(model.parameters())
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal(shape).astype(np.float32), device=device)
    y = Tensor(rng.integers(0, classes, shape[0]), device=device)
    backend = get_backend(device)

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss
    return _timed(step, backend.synchronize, steps, warmup)


def time_torch(torch, make, device: str, steps: int, warmup: int) -> tuple[float, float]:
    model, make_opt, shape, classes = make()
    model = model.to(device)
    opt = make_opt(model.parameters())
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.standard_normal(shape).astype(np.float32), device=device)
    y = torch.tensor(rng.integers(0, classes, shape[0]), device=device)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    return _timed(step, sync, steps, warmup)


def _timed(step: Callable, synchronize: Callable, steps: int, warmup: int) -> tuple[float, float]:
    for _ in range(warmup):
        step()
    synchronize()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        loss = step()
        synchronize()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times), float(loss.item())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("models", nargs="*", default=["mlp", "cnn", "transformer"],
                        choices=["mlp", "cnn", "transformer"])
    parser.add_argument("--device", default=None, help="cuda (default where there is one) or cpu")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--scale", type=int, default=1, help="divide every batch by this")
    args = parser.parse_args(argv)
    device = args.device or ("cuda" if cuda_unavailable_reason() is None else "cpu")
    try:
        import torch
        torch_device = "cuda" if device.startswith("cuda") else "cpu"
        if torch_device == "cuda" and not torch.cuda.is_available():
            raise ImportError("torch sees no CUDA device")
    except ImportError as e:
        torch, reason = None, str(e)
    ours, theirs = tiny_models(args.scale), torch_models(torch, args.scale) if torch else {}
    print(f"{device}: {args.steps} steps after {args.warmup} warmup, median ms per step"
          + ("" if torch else f" (PyTorch skipped: {reason})"))
    print(f"{'model':12} {'tinygrad_nv':>12} {'torch':>9} {'ratio':>7} {'loss':>9} "
          f"{'torch loss':>10}")
    for name in args.models:
        ms, loss = time_tinygrad(ours[name], device, args.steps, args.warmup)
        row = f"{name:12} {ms:12.3f}"
        if torch:
            torch.manual_seed(0)
            tms, tloss = time_torch(torch, theirs[name], torch_device, args.steps, args.warmup)
            row += f" {tms:9.3f} {ms / tms:7.2f} {loss:9.4f} {tloss:10.4f}"
        else:
            row += f" {'-':>9} {'-':>7} {loss:9.4f} {'-':>10}"
        print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
