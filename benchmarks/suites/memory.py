"""memory: host memory of the MLP training loop (SGD, batch 128) against the hand-written
NumPy step: the peak allocated by the loop after its warm-up (tracemalloc: NumPy's buffers
included) and the growth of the memory held over as many steps again (a leak shows as
growth)."""

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
    """(peak bytes allocated during steps first + 1 to last, bytes held after step
    2 * last - first minus after step last), both counted from the start of the loop. The first
    `first` steps warm up (one-time allocations; CPython's free lists fill). Held memory is read
    after a full garbage collection, which also empties those free lists: so it comes after
    the peak's window (their refilling is the interpreter's, not the loop's)."""
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        for _ in range(first):
            step()
        tracemalloc.reset_peak()
        for _ in range(last - first):
            step()
        peak = tracemalloc.get_traced_memory()[1] - start
        held = []
        for steps in (0, last - first):
            for _ in range(steps):
                step()
            gc.collect()
            held.append(tracemalloc.get_traced_memory()[0])
    finally:
        tracemalloc.stop()
    return peak, held[1] - held[0]


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
    settings.progress(f"memory: {2 * last - first} steps each")
    peaks, growths = {}, {}
    for name, step in ((OURS, ours), (raw, hand)):
        with one_blas_thread():  # the figures do not depend on it; the loop is shorter
            peak, growth = profile(step, first, last)
        backend.synchronize()
        peaks[name], growths[name] = Stat.of([peak / KIB]), Stat.of([growth / KIB])
    suite.rows.append(Row(f"peak host memory during SGD steps {first + 1}-{last}, batch {batch}",
                          "KiB", peaks, [Target(raw, 1.2)]))
    end = 2 * last - first
    suite.rows.append(Row(f"memory held after step {end} minus after step {last}", "KiB",
                          growths, noise=FLAT / KIB))
    flat = growths[OURS].median * KIB < FLAT
    suite.notes.append(f"{OURS}'s memory between step {last} and {end}: "
                       f"{'flat' if flat else 'GROWS'} ({growths[OURS].median:+.1f} KiB; flat "
                       f"means below {FLAT / KIB:.0f} KiB)")
    if settings.gpu:
        suite.notes.append("device memory is not traced by tracemalloc: the host figures "
                           "cover the Python objects and host buffers only")
    return suite
