"""memory: host memory of the MLP training loop (SGD, batch 128) against the hand-written
NumPy step: the peak allocated during the loop (tracemalloc: NumPy's buffers included) and the
growth of the memory held between step 100 and step 1000 (a leak shows as growth)."""

from __future__ import annotations

import gc
import tracemalloc
from contextlib import nullcontext

from benchmarks.harness import OURS, Row, Settings, Stat, Suite, Target
from benchmarks.suites import mlp
from tinygrad_nv.backend import get_backend

NAME = "memory"
KIB = 1024.0
FLAT = 64 * KIB  # growth below this (allocator noise) counts as flat


def profile(step, first: int, last: int) -> tuple[float, float]:
    """(peak bytes allocated while running `last` steps, bytes held after step `last` minus
    after step `first`), counted from the start of the loop. Held memory is read after a full
    garbage collection: garbage waiting for the collector is not a leak."""
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        held = {}
        for i in range(1, last + 1):
            step()
            if i in (first, last):
                gc.collect()
                held[i] = tracemalloc.get_traced_memory()[0]
        peak = tracemalloc.get_traced_memory()[1] - start  # the peak since start()
    finally:
        tracemalloc.stop()
    return peak, held[last] - held[first]


def one_blas_thread():
    """BLAS limited to one thread inside (where threadpoolctl is installed)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return nullcontext()
    return threadpool_limits(1, user_api="blas")


def run(settings: Settings) -> Suite:
    suite = Suite(NAME)
    backend = get_backend(settings.device)
    first, last = settings.size((100, 1000), (50, 150), (2, 6))
    batch = settings.size(128, 128, 8)
    ours, hand, _, model = mlp.build(settings, "sgd", batch)
    for p in model.parameters():  # both loops start without gradients
        p.grad = None
    raw = f"hand-written {'cupy' if settings.gpu else 'numpy'}"
    settings.progress(f"memory: {last} steps each")
    peaks, growths = {}, {}
    for name, step in ((OURS, ours), (raw, hand)):
        with one_blas_thread():  # the figures do not depend on it; the loop is shorter
            peak, growth = profile(step, first, last)
        backend.synchronize()
        peaks[name], growths[name] = Stat.of([peak / KIB]), Stat.of([growth / KIB])
    suite.rows.append(Row(f"peak host memory during {last} SGD steps, batch {batch}", "KiB",
                          peaks, [Target(raw, 1.2)]))
    suite.rows.append(Row(f"memory held after step {last} minus after step {first}", "KiB",
                          growths, noise=FLAT / KIB))
    flat = growths[OURS].median * KIB < FLAT
    suite.notes.append(f"{OURS}'s memory between step {first} and {last}: "
                       f"{'flat' if flat else 'GROWS'} ({growths[OURS].median:+.1f} KiB; flat "
                       f"means below {FLAT / KIB:.0f} KiB)")
    if settings.gpu:
        suite.notes.append("device memory is not traced by tracemalloc: the host figures "
                           "cover the Python objects and host buffers only")
    return suite
