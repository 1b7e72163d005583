"""kernels: every CUDA kernel family (benchmarks/kernels.py's cases) checked against its NumPy
reference; on a GPU also timed with CUDA events around the launches only (L2 flushed) and
reported as achieved bandwidth against the device's peak. Without a GPU: correctness only, on
`emu` (the kernel sources compiled for the CPU)."""

from __future__ import annotations

import numpy as np

from benchmarks import kernels as kernel_bench
from benchmarks.harness import OURS, Row, Settings, Stat, Suite
from tinygrad_nv.backend import cuda_unavailable_reason, get_backend

NAME = "kernels"
CHUNKS = 5  # the launches of a case are timed in this many groups: the spread of their medians


def run(settings: Settings) -> Suite:
    suite = Suite(NAME)
    reason = cuda_unavailable_reason() if settings.gpu else "the device is not a GPU"
    device = settings.device if settings.gpu and reason is None else "emu"
    backend, gpu = get_backend(device), device != "emu"
    if not gpu:
        suite.notes.append(f"correctness only, on emu ({reason}): timing needs a GPU")
    peak = kernel_bench.peak_bandwidth(backend.index) if gpu else None
    cases = kernel_bench.make_cases(gpu, np.dtype("float32"))
    if settings.tiny:
        cases = cases[::4]
    repeats = max(CHUNKS, settings.samples(100, 25))
    failed, errors = [], []
    for case in cases:
        settings.progress(f"kernels: {case.name}")
        error = kernel_bench.max_error(backend, case)
        ok = error <= kernel_bench.TOL["float32"]
        errors.append(error)
        if not ok:
            failed.append(f"{case.name} (max relative error {error:.1e})")
        if not gpu:
            continue
        medians = [kernel_bench.time_ms(backend, case, warmup=3, repeats=repeats // CHUNKS)
                   for _ in range(CHUNKS)]
        achieved = Stat.of(medians).inverted(case.moved / 1e6)  # bytes / ms -> GB/s
        figures = {OURS: achieved, "device peak": Stat.of([peak / 1e9])}
        suite.rows.append(Row(f"{case.name} {case.shape}", "GB/s", figures))
    if not gpu:
        suite.rows.append(Row(f"{len(cases)} kernels on emu: relative error against NumPy "
                              "(spread over the kernels)", "error", {OURS: Stat.of(errors)}))
    suite.notes.append(f"{len(cases) - len(failed)} of {len(cases)} kernels match the NumPy "
                       "reference (float32); the ratio to the device peak is the fraction of "
                       "peak memory bandwidth achieved")
    suite.failures += failed
    return suite
