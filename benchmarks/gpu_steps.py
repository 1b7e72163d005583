"""Training steps of an MLP, a CNN, a transformer encoder and an LSTM on tinygrad_nv and on
PyTorch with the same weights and data: the losses of the first steps must agree, then each
framework's median ms/step (device synchronised), eager and, where the tree has
`tinygrad_nv.jit`, captured. For benchmarks/gpu_check.sh (its phase `steps`).

    python benchmarks/gpu_steps.py --device cuda               # PyTorch on CUDA beside it
    python benchmarks/gpu_steps.py --device emu --tiny         # the dry run: PyTorch on the CPU
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

import tinygrad_nv  # noqa: E402
import tinygrad_nv.nn as tnn  # noqa: E402
import tinygrad_nv.nn.functional as TF  # noqa: E402
import tinygrad_nv.optim as toptim  # noqa: E402
from tinygrad_nv import Tensor  # noqa: E402
from tinygrad_nv.backend import get_backend, set_default_device  # noqa: E402

MODELS = ("mlp", "cnn", "transformer", "lstm")
CHECKED = 3  # steps whose losses must agree
RTOL = 2e-3  # float32 in different orders (and kernels that fuse multiply-adds), 3 steps on


def build(name: str, nn, tiny: bool):
    """(model, optimizer class and kwargs, input shape) of `name`, built with the `nn` module
    given (ours or torch.nn: the same code builds both)."""
    if name == "mlp":
        widths = (64, 32, 10) if tiny else (784, 256, 128, 10)
        layers = []
        for a, b in zip(widths, widths[1:]):
            layers += [nn.Linear(a, b), nn.ReLU()]
        return nn.Sequential(*layers[:-1]), ("Adam", {"lr": 1e-3}), (16 if tiny else 128,
                                                                    widths[0])
    if name == "cnn":
        side, c = (8, 4) if tiny else (28, 16)
        model = nn.Sequential(nn.Conv2d(1, c, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Conv2d(c, 2 * c, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Flatten(), nn.Linear(2 * c * (side // 4) ** 2, 10))
        return model, ("SGD", {"lr": 0.05, "momentum": 0.9}), (4 if tiny else 64, 1, side, side)
    if name == "transformer":
        d, heads, seq, batch = (16, 2, 8, 2) if tiny else (128, 4, 64, 32)

        class Encoder(nn.Module):
            def __init__(self):
                super().__init__()
                self.layer = nn.TransformerEncoderLayer(d, heads, dim_feedforward=2 * d,
                                                        dropout=0.0, batch_first=True)
                self.head = nn.Linear(d, 10)

            def forward(self, x):
                return self.head(self.layer(x).mean(1))
        return Encoder(), ("Adam", {"lr": 1e-3}), (batch, seq, d)
    features, hidden, seq, batch = (8, 16, 5, 2) if tiny else (32, 64, 32, 32)

    class Recurrent(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(features, hidden, batch_first=True)
            self.head = nn.Linear(hidden, 10)

        def forward(self, x):
            out, _ = self.lstm(x)
            return self.head(out[:, -1])
    return Recurrent(), ("Adam", {"lr": 1e-3}), (batch, seq, features)


def step_fn(model, opt, functional, x, y):
    def step():
        opt.zero_grad()
        loss = functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss
    return step


def median_ms(step, sync, steps: int) -> float:
    for _ in range(1 if steps < 5 else 3):  # warm-up
        step()
    sync()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        sync()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def compare(name: str, device: str, torch, tiny: bool, steps: int) -> tuple[bool, str, str]:
    """One model on both frameworks: (losses agree, a line for the log, ms/step ours/torch)."""
    torch_device = "cuda" if device.startswith("cuda") else "cpu"
    set_default_device(device)  # parameters are made where they train
    tinygrad_nv.manual_seed(0)
    ours, (opt_name, opt_args), shape = build(name, tnn, tiny)
    ours = ours.to(device)
    theirs = build(name, torch.nn, tiny)[0].to(torch_device)
    theirs.load_state_dict({k: torch.from_numpy(v.numpy()) for k, v in ours.state_dict().items()})
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(np.float32)
    y = rng.integers(0, 10, shape[0])
    ours_step = step_fn(ours, getattr(toptim, opt_name)(ours.parameters(), **opt_args), TF,
                        Tensor(x, device=device), Tensor(y, device=device))
    theirs_step = step_fn(theirs, getattr(torch.optim, opt_name)(theirs.parameters(), **opt_args),
                          torch.nn.functional, torch.from_numpy(x).to(torch_device),
                          torch.from_numpy(y).to(torch_device))
    losses = np.array([[ours_step().item(), theirs_step().item()] for _ in range(CHECKED)])
    diff = float(np.max(np.abs(losses[:, 0] - losses[:, 1]) / np.abs(losses[:, 1])))
    agree = diff <= RTOL
    backend = get_backend(device)
    sync_torch = torch.cuda.synchronize if torch_device == "cuda" else (lambda: None)
    ours_ms = median_ms(ours_step, backend.synchronize, steps)
    theirs_ms = median_ms(theirs_step, sync_torch, steps)
    line = (f"{name:12} losses {'agree' if agree else 'DIFFER'} (largest relative difference "
            f"{diff:.1e} over {CHECKED} steps) ours {ours_ms:.3f} ms/step, torch ({torch_device}) "
            f"{theirs_ms:.3f} ms/step: {ours_ms / theirs_ms:.2f}x")
    jit = getattr(tinygrad_nv, "jit", None)
    if jit is not None:
        line += f"; jit {median_ms(jit(ours_step), backend.synchronize, steps):.3f} ms/step"
    return agree, line, f"{name} {ours_ms:.2f}/{theirs_ms:.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("models", nargs="*", metavar="model",
                        help=f"models to run (default: all of {', '.join(MODELS)})")
    parser.add_argument("--device", default="cuda", help="cuda, cuda:N or emu (default cuda)")
    parser.add_argument("--tiny", action="store_true", help="small models (the dry run)")
    parser.add_argument("--steps", type=int, default=None, help="timed steps (default 20, 2 "
                                                                  "with --tiny)")
    args = parser.parse_args(argv)
    models = args.models or list(MODELS)
    if set(models) - set(MODELS):
        parser.error(f"unknown models {sorted(set(models) - set(MODELS))}; choose from {MODELS}")
    try:
        import torch
    except ImportError:
        print("RESULT skipped: PyTorch is not installed (nothing to compare with)")
        return 0
    torch.backends.cuda.matmul.allow_tf32 = False  # float32 products, as cuBLAS gives CuPy
    torch.backends.cudnn.allow_tf32 = False
    if not args.device.startswith("cuda"):
        torch.set_num_threads(1)  # as NumPy's single thread here: no oversubscribed cores
    torch.manual_seed(0)
    steps = args.steps or (2 if args.tiny else 20)
    bad, times = [], []
    for name in models:
        try:
            agree, line, ms = compare(name, args.device, torch, args.tiny, steps)
            times.append(ms)
        except Exception as e:  # noqa: BLE001  (one model's failure must not hide the others)
            agree, line = False, f"{name:12} FAILED: {type(e).__name__}: {e}"
        print(line, flush=True)
        if not agree:
            bad.append(name)
    print(f"RESULT {'ok' if not bad else 'bad'}: {len(models) - len(bad)} of {len(models)} "
          "models agree with PyTorch" + (f" ({', '.join(bad)} do not)" if bad else "")
          + f"; ms/step ours/torch: {', '.join(times)}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
