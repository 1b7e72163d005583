"""Correctness, bandwidth and a prediction for the CUDA kernels in kernels/ (llm.c's dev/cuda).

    python benchmarks/kernels.py                      # every family, on the GPU if there is one
    python benchmarks/kernels.py softmax optim --dtype float64 --repeats 200
    python benchmarks/kernels.py --device emu         # correctness only, kernels on the CPU
    python benchmarks/kernels.py --no-time            # correctness at the benchmark sizes
    python benchmarks/kernels.py softmax --small --no-time --no-pool   # under compute-sanitizer

For each kernel: run it once through the backend's kernels object (CudaKernels) and compare with
NumpyKernels, the reference; then, on a GPU, time it with CUDA events (warmup first, the L2
cache flushed before every repeat) and print the median time, the achieved bandwidth (bytes
that must move, napkin math next to each case, divided by the time) and its fraction of the
device's peak memory bandwidth. Times include the launch code (outputs come from CuPy's pool).
Without a GPU, only the correctness part runs, on `emu` with small sizes.

Every row also shows the time the case should take at the benchmark (GPU) sizes on an H100:
its bytes at 3.35 TB/s plus LAUNCH_SECONDS per launch (the kernels are memory-bound; FLOPs are
listed to show it). A GPU run puts the measured time beside it: where the two part is where the
model, or the kernel, is wrong.

Cases marked [old: ...] run the previous version of a kernel through a setting of the kernels
object (one row chunk in bias_grad, a whole warp or a block per narrow row, 64-bit im2col
indices, one optimizer launch per tensor), so that the rows beside them show what the new
version gains: keep a new version only where it is faster on the GPU.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from tinygrad_nv.backend import cuda_unavailable_reason, get_backend  # noqa: E402
from tinygrad_nv.backend.kernels import AdamCoef, SgdCoef  # noqa: E402
from tinygrad_nv.backend.launch import bias_grad_chunks  # noqa: E402
from tinygrad_nv.backend.numpy_kernels import NumpyKernels  # noqa: E402

REF = NumpyKernels(np)
TOL = {"float32": 1e-4, "float64": 1e-10}
CONV = ((3, 3), (1, 1), (1, 1), (1, 1))  # kernel, stride, padding, dilation
FAMILIES = ("activation", "linear", "softmax", "cross_entropy", "attention", "optim", "conv")
H100_BANDWIDTH = 3.35e12  # bytes per second: H100 SXM (HBM3)
LAUNCH_SECONDS = 5e-6  # one launch from Python through CuPy (an assumption a GPU run checks)
ADAM = AdamCoef.of(1e-3, 0.9, 0.999, 1e-8, 0.01, 10, True)  # AdamW at step 10


@dataclass
class Case:
    """One kernel call: how to make its host inputs, how to run it on a kernels object, and the
    napkin figures at its size (bytes read + written at least once, FLOPs, launches)."""

    family: str
    name: str
    shape: str
    make: Callable[[], dict]  # the host inputs (made when needed: the GPU sizes are large)
    run: Callable  # (kernels, **arrays) -> tuple of results (updated arrays for in-place ones)
    moved: int
    flops: int
    launches: int = 1
    settings: dict = field(default_factory=dict)  # attributes of the kernels object to set

    def old(self, what: str, launches: int | None = None, **settings) -> Case:
        """The same case run by the previous kernel version (see the module docstring)."""
        return replace(self, name=f"{self.name} [old: {what}]", settings=settings,
                       launches=self.launches if launches is None else launches)

    @property
    def predicted_seconds(self) -> float:
        """H100 time: the bytes at full bandwidth, plus the launches' overhead."""
        return self.moved / H100_BANDWIDTH + self.launches * LAUNCH_SECONDS


@contextmanager
def configured(kernels, settings: dict):
    """`kernels` with `settings` applied for the block."""
    saved = {name: getattr(kernels, name) for name in settings}
    for name, value in settings.items():
        setattr(kernels, name, value)
    try:
        yield kernels
    finally:
        for name, value in saved.items():
            setattr(kernels, name, value)


def make_cases(gpu: bool, dtype) -> list[Case]:
    """Every case at the benchmark sizes (gpu) or the small ones emu runs; inputs are made only
    when a case runs."""
    dtype = np.dtype(dtype)
    size = dtype.itemsize
    n = 1 << 24 if gpu else 3000                             # element-wise length
    rows, cols = (8192, 4096) if gpu else (48, 300)          # softmax / cross-entropy
    narrow_rows = 1 << 20 if gpu else 50                     # MNIST-like: 10 classes
    heads, seq = (64 * 8, 256) if gpu else (2, 37)           # attention: batch * heads, keys
    batch, chans, side = (32, 64, 56) if gpu else (2, 3, 9)  # convolution input
    image = (batch, chans, side, side)
    col_size = batch * chans * 9 * side * side  # 3x3 columns, stride 1, padding 1
    sizes = [s for width in (256, 512, 1024, 64) for s in (width * width, width)] * 4
    sizes = sizes if gpu else [s // 64 + 1 for s in sizes]   # a model's parameter group

    def randn(*shape, seed=0):
        return np.random.default_rng(seed).standard_normal(shape).astype(dtype)

    def targets(count, classes):
        return np.random.default_rng(1).integers(0, classes, count)

    def sgd(k, p, g, b):
        k.sgd_step(p, g, b, SgdCoef.of(0.1, 0.9, 0.0, True, 1e-4, False))
        return p, b

    def adam(k, p, g, m, v):
        k.adam_step(p, g, m, v, ADAM)
        return p, m, v

    def adam_group(k, p, g, m, v):
        k.adam_multi(p, g, m, v, ADAM)
        return (*p, *m, *v)

    def adam_each(k, p, g, m, v):
        for args in zip(p, g, m, v):
            k.adam_step(*args, ADAM)
        return (*p, *m, *v)

    def group():
        return {"p": [randn(s, seed=k) for k, s in enumerate(sizes)],
                "g": [randn(s, seed=100 + k) for k, s in enumerate(sizes)],
                "m": [randn(s, seed=200 + k) for k, s in enumerate(sizes)],
                "v": [np.abs(randn(s, seed=300 + k)) for k, s in enumerate(sizes)]}

    def causal_weights():
        return REF.attention_softmax(randn(heads * seq, seq), seq, 0.125, True)

    z_rows = n // 256
    bias_grad = Case("linear", "bias_grad", f"{z_rows}x256", lambda: {"g": randn(z_rows, 256)},
                     lambda k, g: (k.bias_grad(g),), z_rows * 256 * size, z_rows * 256,
                     launches=1 + (bias_grad_chunks(z_rows, 256) > 1))
    narrow = narrow_rows * 10
    narrow_softmax = Case("softmax", "softmax 10 classes", f"{narrow_rows}x10",
                          lambda: {"x": randn(narrow_rows, 10)},
                          lambda k, x: (k.softmax(x, True),), 2 * narrow * size, 6 * narrow)
    narrow_ce = Case("cross_entropy", "cross_entropy mean 10 classes", f"{narrow_rows}x10",
                     lambda: {"x": randn(narrow_rows, 10), "t": targets(narrow_rows, 10)},
                     lambda k, x, t: k.cross_entropy(x, t, mean=True)[:2], 2 * narrow * size,
                     8 * narrow)
    scores = heads * seq * seq
    attention = Case("attention", f"attention_softmax causal {seq} keys", f"{heads * seq}x{seq}",
                     lambda: {"s": randn(heads * seq, seq)},
                     lambda k, s: (k.attention_softmax(s, seq, 0.125, True),),
                     2 * scores * size, 8 * scores)
    attention_back = Case("attention", f"attention_softmax_backward {seq} keys",
                          f"{heads * seq}x{seq}",
                          lambda: {"y": causal_weights(), "g": randn(heads * seq, seq, seed=1)},
                          lambda k, y, g: (k.attention_softmax_backward(y, g, 0.125),),
                          3 * scores * size, 5 * scores)
    group_size = sum(sizes)
    adam_multi = Case("optim", "adam_multi decoupled", f"{len(sizes)} tensors", group,
                      adam_group, 7 * group_size * size, 12 * group_size)
    im2col = Case("conv", "im2col 3x3", "x".join(map(str, image)), lambda: {"x": randn(*image)},
                  lambda k, x: (k.im2col(x, *CONV),), (batch * chans * side**2 + col_size) * size,
                  0)
    col2im = Case("conv", "col2im 3x3", f"{batch}x{chans * 9}x{side * side}",
                  lambda: {"c": randn(batch, chans * 9, side * side)},
                  lambda k, c: (k.col2im(c, image, *CONV),),
                  (batch * chans * side**2 + col_size) * size, col_size)
    return [
        # read x, write y
        Case("activation", "act_forward gelu", str(n), lambda: {"x": randn(n)},
             lambda k, x: (k.act_forward("gelu", x),), 2 * n * size, 5 * n),
        # read x and grad, write dx
        Case("activation", "act_backward gelu", str(n),
             lambda: {"x": randn(n), "g": randn(n, seed=1)},
             lambda k, x, g: (k.act_backward("gelu", x, g),), 3 * n * size, 10 * n),
        Case("activation", "erfc", str(n), lambda: {"x": randn(n)}, lambda k, x: (k.erfc(x),),
             2 * n * size, 20 * n),
        # read z, write pre (into z) and out; the bias stays in cache
        Case("linear", "bias_act relu", f"{z_rows}x256",
             lambda: {"z": randn(z_rows, 256), "b": randn(256, seed=1)},
             lambda k, z, b: k.bias_act(z, b, "relu"), 3 * n * size, 2 * n),
        # read the gradient once
        bias_grad, bias_grad.old("one row chunk", launches=1, bias_grad_blocks=1),
        # read x, write y (the second and third passes over a row hit the cache)
        Case("softmax", "softmax", f"{rows}x{cols}", lambda: {"x": randn(rows, cols)},
             lambda k, x: (k.softmax(x),), 2 * rows * cols * size, 6 * rows * cols),
        narrow_softmax, narrow_softmax.old("a warp per row", sub_warp_rows=False),
        narrow_softmax.old("block per row", warp_row_cols=0),
        # read y and grad, write dx
        Case("softmax", "softmax_backward log", f"{rows}x{cols}",
             lambda: {"y": REF.softmax(randn(rows, cols), True), "g": randn(rows, cols, seed=1)},
             lambda k, y, g: (k.softmax_backward(y, g, True),), 3 * rows * cols * size,
             5 * rows * cols),
        # read logits, write dlogits (targets and losses are one value a row)
        Case("cross_entropy", "cross_entropy smoothing=0.1", f"{rows}x{cols}",
             lambda: {"x": randn(rows, cols), "t": targets(rows, cols)},
             lambda k, x, t: k.cross_entropy(x, t, 0.1)[:2], 2 * rows * cols * size,
             8 * rows * cols),
        narrow_ce, narrow_ce.old("a warp per row", sub_warp_rows=False),
        narrow_ce.old("block per row", warp_row_cols=0),
        # read the scores, write the weights (the causal half is never exponentiated)
        attention, attention.old("block per row", warp_row_cols=0),
        # read y and grad, write d scores
        attention_back, attention_back.old("block per row", warp_row_cols=0),
        # read param, grad, buf; write param, buf
        Case("optim", "sgd_step nesterov", str(n),
             lambda: {"p": randn(n), "g": randn(n, seed=1), "b": randn(n, seed=2)}, sgd,
             5 * n * size, 6 * n),
        # read param, grad, m, v; write param, m, v
        Case("optim", "adam_step decoupled", str(n),
             lambda: {"p": randn(n), "g": randn(n, seed=1), "m": randn(n, seed=2),
                      "v": np.abs(randn(n, seed=3))}, adam, 7 * n * size, 12 * n),
        # every tensor of a group in one launch, against one launch per tensor
        adam_multi, replace(adam_multi, name="adam_multi decoupled [old: adam_step per tensor]",
                            run=adam_each, launches=len(sizes)),
        # read the image once, write the columns
        im2col, im2col.old("64-bit indices", index32=False),
        # read the columns, write the image
        col2im, col2im.old("64-bit indices", index32=False),
    ]


def max_error(backend, case: Case) -> float:
    """Largest relative error of the backend's results against the reference."""
    inputs = case.make()
    expected = case.run(REF, **{k: _copy(a, np.copy) for k, a in inputs.items()})
    with configured(backend.kernels, case.settings) as kernels:
        actual = case.run(kernels, **{k: _copy(a, backend.from_host) for k, a in inputs.items()})
    errors = [np.max(np.abs(backend.to_host(a) - e) / (1 + np.abs(e)), initial=0.0)
              for a, e in zip(actual, expected, strict=True)]
    return float(max(errors))


def time_ms(backend, case: Case, warmup: int, repeats: int) -> float:
    """Median milliseconds a launch takes, by CUDA events, the L2 cache flushed before each."""
    import cupy

    arrays = {k: _copy(a, backend.from_host) for k, a in case.make().items()}
    l2 = cupy.cuda.runtime.getDeviceProperties(backend.index)["l2CacheSize"]
    flush = cupy.empty(2 * l2, dtype=np.uint8)
    start, end = cupy.cuda.Event(), cupy.cuda.Event()
    with configured(backend.kernels, case.settings) as kernels:
        for _ in range(warmup):
            case.run(kernels, **arrays)
        times = []
        for _ in range(repeats):
            flush.fill(0)
            start.record()
            case.run(kernels, **arrays)
            end.record()
            end.synchronize()
            times.append(cupy.cuda.get_elapsed_time(start, end))
    return statistics.median(times)


def _copy(value, copy: Callable):
    """A copy of an input array (or of each array of a list) made by `copy`."""
    return [copy(a.copy()) for a in value] if isinstance(value, list) else copy(value.copy())


def peak_bandwidth(index: int) -> float:
    """Bytes per second: 2 (double data rate) x memory clock x bus width."""
    import cupy

    runtime = cupy.cuda.runtime
    props = runtime.getDeviceProperties(index)
    clock_khz = props.get("memoryClockRate") or runtime.deviceGetAttribute(
        runtime.cudaDevAttrMemoryClockRate, index)
    bus_bits = props.get("memoryBusWidth") or runtime.deviceGetAttribute(
        runtime.cudaDevAttrGlobalMemoryBusWidth, index)
    return 2 * clock_khz * 1e3 * bus_bits / 8


def prediction(case: Case) -> str:
    """`case`'s napkin figures and its H100 time."""
    launches = f"{case.launches} launch{'es' if case.launches > 1 else ''}"
    return (f"{case.moved / 1e6:.1f} MB, {case.flops / 1e9:.3f} GFLOP, {launches}: "
            f"{case.predicted_seconds * 1e6:.1f} us")


def progress(items: list, enabled: bool):
    try:
        from tqdm import tqdm
    except ImportError:
        return items
    return tqdm(items, disable=not enabled, leave=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("families", nargs="*", metavar="family",
                        help=f"kernel families to run (default: all of {', '.join(FAMILIES)})")
    parser.add_argument("--device", default=None,
                        help="'cuda' or 'emu' (default: cuda where there is a GPU, else emu)")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=100)
    parser.add_argument("--no-time", action="store_true", help="correctness only")
    parser.add_argument("--small", action="store_true", help="emu's small sizes on a GPU too")
    parser.add_argument("--no-pool", action="store_true",
                        help="CuPy's memory pool off (compute-sanitizer memcheck sees every "
                             "allocation)")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.families) - set(FAMILIES))
    if unknown:
        parser.error(f"unknown families {unknown}; choose from {list(FAMILIES)}")

    reason = cuda_unavailable_reason()
    device = args.device or ("cuda" if reason is None else "emu")
    gpu = device.startswith("cuda")
    if gpu and args.no_pool:
        import cupy
        cupy.cuda.set_allocator(None)
    backend = get_backend(device)
    dtype = np.dtype(args.dtype)
    # each case beside itself at the benchmark sizes (the prediction's)
    chosen = [(case, at_size) for case, at_size in zip(make_cases(gpu and not args.small, dtype),
                                                       make_cases(True, dtype))
              if not args.families or case.family in args.families]
    timed = gpu and not args.no_time
    if timed:
        peak = peak_bandwidth(backend.index)
        print(f"{device}: peak memory bandwidth {peak / 1e9:.0f} GB/s")
    else:
        print(f"{device}: correctness only ({reason or 'as asked'}); the prediction is for an "
              "H100 at the benchmark sizes")

    failed, rows = 0, []
    for case, at_size in progress(chosen, sys.stderr.isatty()):
        error = max_error(backend, case)
        ok = error <= TOL[args.dtype]
        failed += not ok
        row = f"{case.name:52} {case.shape:>13} {error:8.1e} {'ok' if ok else 'FAIL':4}"
        if timed and ok:
            ms = time_ms(backend, case, args.warmup, args.repeats)
            gbs = case.moved / ms / 1e6
            row += f" {ms * 1e3:9.1f} us {gbs:7.0f} GB/s {100 * gbs * 1e9 / peak:3.0f}%"
        rows.append(f"{row} | {prediction(at_size)}")
    timing = f" {'measured':>12} {'bandwidth':>12} {'peak':>4}" if timed else ""
    print(f"{'kernel':52} {'shape':>13} {'max err':>8} {'':4}{timing} | "
          "H100 model at the benchmark sizes")
    print("\n".join(rows))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
