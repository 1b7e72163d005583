"""matmul: GFLOP/s of square and MLP-shaped products in float32 and float64, against NumPy
(CPU) or CuPy/cuBLAS (GPU) and PyTorch on the same device."""

from __future__ import annotations

import numpy as np

from benchmarks.harness import (
    OURS,
    Row,
    Settings,
    Suite,
    Target,
    time_round_robin,
    torch_or_reason,
    torch_sync,
)
from tinygrad_nv import Tensor, no_grad
from tinygrad_nv.backend import get_backend

NAME = "matmul"


def shapes(settings: Settings) -> list[tuple[str, int, int, int]]:
    """(label, m, k, n): square, then the MLP's first layer forward at batch 128 and 1024."""
    square = settings.size(1024, 1024, 32)
    batch, width = settings.size((128, 1024), (128, 1024), (8, 16)), settings.size(784, 784, 24)
    hidden = settings.size(256, 256, 8)
    return [(f"{square}x{square} @ {square}x{square}", square, square, square),
            *[(f"{b}x{width} @ {width}x{hidden} (MLP layer 1)", b, width, hidden)
              for b in batch]]


def run(settings: Settings) -> Suite:
    suite = Suite(NAME)
    backend = get_backend(settings.device)
    raw = "cupy" if settings.gpu else "numpy"
    torch, torch_device = torch_or_reason(settings.device)
    syncs = [backend.synchronize]
    if torch is None:
        suite.notes.append(torch_device)
    else:
        syncs.append(torch_sync(torch, torch_device))
    rng = np.random.default_rng(0)
    samples = settings.samples(30, 8)
    for dtype in ("float32", "float64"):
        for label, m, k, n in shapes(settings):
            settings.progress(f"matmul: {label} {dtype}")
            a_host = rng.standard_normal((m, k)).astype(dtype)
            b_host = rng.standard_normal((k, n)).astype(dtype)
            a_raw, b_raw = backend.from_host(a_host), backend.from_host(b_host)
            a, b = Tensor(a_raw, device=settings.device), Tensor(b_raw, device=settings.device)
            fns = {OURS: lambda a=a, b=b: a @ b,
                   raw: lambda a=a_raw, b=b_raw: backend.xp.matmul(a, b)}
            if torch is not None:
                a_t, b_t = (torch.tensor(x, device=torch_device) for x in (a_host, b_host))
                fns["torch"] = lambda a=a_t, b=b_t: a @ b
            flop = 2.0 * m * k * n
            inner = max(1, int(2e8 // flop)) if not settings.tiny else 1
            with no_grad():
                stats = time_round_robin(fns, settings, samples, lambda: [s() for s in syncs],
                                         inner=inner)
            figures = {name: stat.inverted(flop / 1e9) for name, stat in stats.items()}
            targets = [Target(raw, 0.97, at_most=False)] if dtype == "float32" and m == k else []
            suite.rows.append(Row(f"{label} {dtype}", "GFLOP/s", figures, targets))
    return suite
