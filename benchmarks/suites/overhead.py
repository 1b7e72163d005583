"""overhead: per-op cost on tiny tensors (shape (4,)): one op with and without graph recording
against raw NumPy/CuPy and PyTorch, and a tiny forward + backward graph against PyTorch, eager
and jitted (tinygrad_nv.jit)."""

from __future__ import annotations

import numpy as np

from benchmarks.harness import (
    OURS,
    Row,
    Settings,
    Suite,
    Target,
    jit_rows,
    time_round_robin,
    torch_or_reason,
    torch_sync,
    with_jit,
)
from tinygrad_nv import Tensor, no_grad
from tinygrad_nv.backend import get_backend

NAME = "overhead"


def run(settings: Settings) -> Suite:
    suite = Suite(NAME)
    backend = get_backend(settings.device)
    a_host, b_host = np.random.default_rng(0).standard_normal((2, 4)).astype(np.float32)
    a_raw, b_raw = backend.from_host(a_host), backend.from_host(b_host)
    raw = "cupy" if settings.gpu else "numpy"
    a = Tensor(a_host, device=settings.device, requires_grad=True)
    b = Tensor(b_host, device=settings.device, requires_grad=True)
    a_const = Tensor(a_host, device=settings.device)
    b_const = Tensor(b_host, device=settings.device)

    def no_grad_mul():
        with no_grad():
            return a * b

    def fwd_bwd():
        a.grad = b.grad = None
        (a * b).relu().sum().backward()

    mul = {OURS: lambda: a * b, raw: lambda: a_raw * b_raw}
    both = {OURS: fwd_bwd}  # raw arrays have no backward: no like-for-like figure
    syncs = [backend.synchronize]
    torch, torch_device = torch_or_reason(settings.device)
    if torch is None:
        suite.notes.append(torch_device)
    else:
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # tiny tensors: no thread pool in the way
        a_t = torch.tensor(a_host, device=torch_device, requires_grad=True)
        b_t = torch.tensor(b_host, device=torch_device, requires_grad=True)

        def torch_fwd_bwd():
            a_t.grad = b_t.grad = None
            (a_t * b_t).relu().sum().backward()

        mul["torch"], both["torch"] = (lambda: a_t * b_t), torch_fwd_bwd
        syncs.append(torch_sync(torch, torch_device))
    samples, inner = settings.samples(200, 40), 5 if settings.tiny else 50

    def timed(fns, scaled=True):
        stats = time_round_robin(fns, settings, samples, lambda: [s() for s in syncs],
                                 warmup=inner, inner=inner)
        return {name: stat.scaled(1e6) for name, stat in stats.items()} if scaled else stats

    settings.progress("overhead: one op")
    suite.rows.append(Row("a * b, records the graph", "us", timed(mul)))
    suite.rows.append(Row("a * b, inputs need no grad", "us",
                          timed({OURS: lambda: a_const * b_const, raw: mul[raw]})))
    suite.rows.append(Row("a * b, inside no_grad", "us", timed({OURS: no_grad_mul,
                                                                 raw: mul[raw]})))
    settings.progress("overhead: forward + backward")
    case, both = "(a * b).relu().sum() forward + backward", with_jit(both)
    eager, jitted = jit_rows(case, timed(both, scaled=False), both, [Target("torch", 0.3)], "us")
    suite.rows += [Row(case, "us", eager, [Target("torch", 0.5)]), *jitted]
    if torch is not None:
        torch.set_num_threads(threads)
    first = suite.rows[0].figures
    suite.notes.append(f"forward op overhead over {raw}: "
                       f"{first[OURS].median - first[raw].median:.2f} us per op "
                       "(target <= 2 us)")
    return suite
