"""kernels: every CUDA kernel family (benchmarks/kernels.py's cases) checked against its NumPy
reference, and each kernel's predicted time at the benchmark sizes on an H100 (bytes at 3.35
TB/s plus launch overhead, with its bytes and FLOPs); on a GPU also timed with CUDA events
around the launches only (L2 flushed), beside the prediction and as achieved bandwidth against
the device's peak. Without a GPU: correctness on `emu` (the kernel sources compiled for the
CPU) and the prediction."""

from __future__ import annotations

import numpy as np

from benchmarks import kernels as kernel_bench
from benchmarks.harness import OURS, Row, Settings, Stat, Suite
from tinygrad_nv.backend import cuda_unavailable_reason, get_backend

NAME = "kernels"
CHUNKS = 5  # the launches of a case are timed in this many groups: the spread of their medians
MODEL = "H100 model"


def run(settings: Settings) -> Suite:
    suite = Suite(NAME)
    reason = cuda_unavailable_reason() if settings.gpu else "the device is not a GPU"
    device = settings.device if settings.gpu and reason is None else "emu"
    backend, gpu = get_backend(device), device != "emu"
    if not gpu:
        suite.notes.append(f"correctness only, on emu ({reason}): timing needs a GPU")
    peak = kernel_bench.peak_bandwidth(backend.index) if gpu else None
    pairs = list(zip(kernel_bench.make_cases(gpu, np.dtype("float32")),
                     kernel_bench.make_cases(True, np.dtype("float32"))))
    if settings.tiny:
        pairs = pairs[::4]
    repeats = max(CHUNKS, settings.samples(100, 25))
    failed, errors = [], []
    suite.notes.append(f"predicted on an H100 at the benchmark sizes: bytes at "
                       f"{kernel_bench.H100_BANDWIDTH / 1e12:.2f} TB/s + "
                       f"{kernel_bench.LAUNCH_SECONDS * 1e6:.0f} us a launch"
                       + ("; measured beside it" if gpu else ""))
    for case, at_size in pairs:
        settings.progress(f"kernels: {case.name}")
        error = kernel_bench.max_error(backend, case)
        errors.append(error)
        if error > kernel_bench.TOL["float32"]:
            failed.append(f"{case.name} (max relative error {error:.1e})")
        predicted = Stat.of([at_size.predicted_seconds * 1e6])
        measured = ""
        if gpu:
            medians = [kernel_bench.time_ms(backend, case, warmup=3, repeats=repeats // CHUNKS)
                       for _ in range(CHUNKS)]
            times = Stat.of(medians)
            suite.rows.append(Row(f"{case.name} {case.shape}", "us",
                                  {OURS: times.scaled(1e3), MODEL: predicted}))
            suite.rows.append(Row(f"{case.name} {case.shape}", "GB/s",
                                  {OURS: times.inverted(case.moved / 1e6),
                                   "device peak": Stat.of([peak / 1e9])}))
            measured = f", measured {times.median * 1e3:.1f} us"
        suite.notes.append(f"{at_size.name} {at_size.shape}: {kernel_bench.prediction(at_size)}"
                           f"{measured}")
    if not gpu:
        suite.rows.append(Row(f"{len(pairs)} kernels on emu: relative error against NumPy "
                              "(spread over the kernels)", "error", {OURS: Stat.of(errors)}))
    suite.notes.append(f"{len(pairs) - len(failed)} of {len(pairs)} kernels match the NumPy "
                       "reference (float32); the ratio to the device peak is the fraction of "
                       "peak memory bandwidth achieved, the ratio to the H100 model how far "
                       "the time is from bytes / bandwidth + launches")
    suite.failures += failed
    return suite
