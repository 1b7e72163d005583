"""Per-op framework overhead on tiny tensors (shape (4,)), against raw NumPy and PyTorch.

    python benchmarks/overhead.py [--repeats 2000] [--device cpu]

Prints the median time per call of: one forward op (a * b) with and without graph
recording, and forward + backward of (a * b).relu().sum(); each next to NumPy's forward and
(when installed) PyTorch's same work, as ratios measured in this run.
Targets: forward op within 2 us of NumPy's; forward + backward at most half of PyTorch's.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np

from tinygrad_nv import Tensor, no_grad

try:
    from tqdm import tqdm
except ImportError:  # progress bar only when tqdm is installed
    def tqdm(iterable, **_):
        return iterable


def median_us(fn: Callable[[], object], repeats: int, inner: int = 50) -> float:
    """Median over `repeats` samples of the mean time of `inner` calls, in microseconds."""
    for _ in range(inner):
        fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(inner):
            fn()
        samples.append((time.perf_counter() - start) / inner * 1e6)
    return statistics.median(samples)


def cases(device: str) -> dict[str, Callable[[], object]]:
    a_np, b_np = np.random.default_rng(0).standard_normal((2, 4)).astype(np.float32)
    a = Tensor(a_np, device=device, requires_grad=True)
    b = Tensor(b_np, device=device, requires_grad=True)
    a_const, b_const = Tensor(a_np, device=device), Tensor(b_np, device=device)

    def no_grad_mul():
        with no_grad():
            return a * b

    def fwd_bwd():
        a.grad = b.grad = None
        (a * b).relu().sum().backward()

    out = {
        "numpy a*b": lambda: a_np * b_np,
        "numpy (a*b).relu().sum() fwd": lambda: np.maximum(a_np * b_np, 0).sum(),
        "tinygrad_nv a*b (records graph)": lambda: a * b,
        "tinygrad_nv a*b (no grad inputs)": lambda: a_const * b_const,
        "tinygrad_nv a*b (inside no_grad)": no_grad_mul,
        "tinygrad_nv fwd+bwd": fwd_bwd,
    }
    try:
        import torch
    except ImportError:
        return out
    torch.set_num_threads(1)
    a_t = torch.tensor(a_np, requires_grad=True)
    b_t = torch.tensor(b_np, requires_grad=True)

    def torch_fwd_bwd():
        a_t.grad = b_t.grad = None
        (a_t * b_t).relu().sum().backward()

    out["torch a*b (records graph)"] = lambda: a_t * b_t
    out["torch fwd+bwd"] = torch_fwd_bwd
    return out


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    todo = cases(args.device)
    times = {name: median_us(fn, args.repeats)
             for name, fn in tqdm(todo.items(), desc="timing", total=len(todo))}
    for name, us in times.items():
        print(f"{name:36s} {us:8.2f} us")
    print()
    extra = times["tinygrad_nv a*b (records graph)"] - times["numpy a*b"]
    print(f"forward op overhead over NumPy: {extra:.2f} us (target <= 2 us)")
    no_record = times["tinygrad_nv a*b (no grad inputs)"] - times["numpy a*b"]
    print(f"forward op overhead, no graph: {no_record:.2f} us")
    if "torch fwd+bwd" in times:
        ratio = times["tinygrad_nv fwd+bwd"] / times["torch fwd+bwd"]
        print(f"forward+backward vs PyTorch: {ratio:.2f}x PyTorch's time (target <= 0.5x)")
        ratio = times["tinygrad_nv a*b (records graph)"] / times["torch a*b (records graph)"]
        print(f"forward op vs PyTorch: {ratio:.2f}x")
    return times


if __name__ == "__main__":
    main()
