"""Correctness and bandwidth of the CUDA kernels in kernels/, in the manner of llm.c's dev/cuda.

    python benchmarks/kernels.py                      # every family, on the GPU if there is one
    python benchmarks/kernels.py softmax optim --dtype float64 --repeats 200
    python benchmarks/kernels.py --device emu         # correctness only, kernels on the CPU

For each kernel: run it once through the backend's kernels object (CudaKernels) and compare with
NumpyKernels, the reference; then, on a GPU, time it with CUDA events (warmup first, the L2
cache flushed before every repeat) and print the median time, the achieved bandwidth (bytes
that must move, napkin math next to each case, divided by the time) and its fraction of the
device's peak memory bandwidth. Times include the launch code (outputs come from CuPy's pool).
Without a GPU, only the correctness part runs, on `emu` with small sizes.

Cases marked [old: ...] run the previous version of a kernel through a setting of the kernels
object (one row chunk in bias_grad, one block per narrow softmax, cross-entropy or attention
row, 64-bit im2col indices, one optimizer launch per tensor), so that the rows beside them show
what the new version gains: keep a new version only where it is faster on the GPU.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from tinygrad_nv.backend import cuda_unavailable_reason, get_backend  # noqa: E402
from tinygrad_nv.backend.numpy_kernels import NumpyKernels  # noqa: E402

REF = NumpyKernels(np)
TOL = {"float32": 1e-4, "float64": 1e-10}
CONV = ((3, 3), (1, 1), (1, 1), (1, 1))  # kernel, stride, padding, dilation


@dataclass
class Case:
    """One kernel launch: host inputs, how to run it on a kernels object, the bytes it moves."""

    family: str
    name: str
    inputs: dict
    run: Callable  # (kernels, **arrays) -> tuple of results (updated arrays for in-place ones)
    moved: int  # bytes read + written, at least once each
    settings: dict = field(default_factory=dict)  # attributes of the kernels object to set

    @property
    def shape(self) -> str:
        first = next(iter(self.inputs.values()))
        if isinstance(first, list):
            return f"{len(first)} tensors"
        return "x".join(map(str, first.shape))

    def old(self, what: str, **settings) -> Case:
        """The same case run by the previous kernel version (see the module docstring)."""
        return Case(self.family, f"{self.name} [old: {what}]", self.inputs, self.run,
                    self.moved, settings)


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


def make_cases(gpu: bool, dtype: np.dtype) -> list[Case]:
    rng = np.random.default_rng(0)
    n = 1 << 24 if gpu else 3000                             # element-wise length
    rows, cols = (8192, 4096) if gpu else (48, 300)          # softmax / cross-entropy
    batch, chans, side = (32, 64, 56) if gpu else (2, 3, 9)  # convolution input
    size = dtype.itemsize

    def randn(*shape):
        return rng.standard_normal(shape).astype(dtype)

    def sgd(k, p, g, b):
        k.sgd_step(p, g, b, 0.1, 0.9, 0.0, True, 1e-4, False)
        return p, b

    def adam(k, p, g, m, v):
        k.adam_step(p, g, m, v, 1e-3, 0.9, 0.999, 1e-8, 0.01, 10, True)
        return p, m, v

    def adam_group(k, p, g, m, v):
        k.adam_multi(p, g, m, v, 1e-3, 0.9, 0.999, 1e-8, 0.01, 10, True)
        return (*p, *m, *v)

    def adam_each(k, p, g, m, v):
        for args in zip(p, g, m, v):
            k.adam_step(*args, 1e-3, 0.9, 0.999, 1e-8, 0.01, 10, True)
        return (*p, *m, *v)

    x, g, z, b = randn(n), randn(n), randn(n // 256, 256), randn(256)
    logits, targets = randn(rows, cols), rng.integers(0, cols, rows)
    narrow_rows = 1 << 20 if gpu else 50                     # MNIST-like: 10 classes
    narrow, narrow_targets = randn(narrow_rows, 10), rng.integers(0, 10, narrow_rows)
    image = randn(batch, chans, side, side)
    cols_ = REF.im2col(image, *CONV)
    m, v = randn(n), np.abs(randn(n))
    # a model's parameter group: weights and biases of a few layers
    sizes = [s for width in (256, 512, 1024, 64) for s in (width * width, width)] * 4
    sizes = sizes if gpu else [s // 64 + 1 for s in sizes]
    group = {"p": [randn(s) for s in sizes], "g": [randn(s) for s in sizes],
             "m": [randn(s) for s in sizes], "v": [np.abs(randn(s)) for s in sizes]}
    group_bytes = 7 * sum(sizes) * size
    bias_grad = Case("linear", "bias_grad", {"g": z}, lambda k, g: (k.bias_grad(g),),
                     z.size * size)
    narrow_softmax = Case("softmax", "softmax 10 classes", {"x": narrow},
                          lambda k, x: (k.softmax(x, True),), 2 * narrow.size * size)
    heads, seq = (64 * 8, 256) if gpu else (2, 37)        # attention: batch * heads, keys
    attn = randn(heads * seq, seq)
    attention = Case("attention", f"attention_softmax causal {seq} keys", {"s": attn},
                     lambda k, s: (k.attention_softmax(s, seq, 0.125, True),),
                     2 * attn.size * size)
    attention_back = Case("attention", f"attention_softmax_backward {seq} keys",
                          {"y": REF.attention_softmax(attn, seq, 0.125, True), "g": attn},
                          lambda k, y, g: (k.attention_softmax_backward(y, g, 0.125),),
                          3 * attn.size * size)
    narrow_ce = Case("cross_entropy", "cross_entropy 10 classes",
                     {"x": narrow, "t": narrow_targets}, lambda k, x, t: k.cross_entropy(x, t),
                     2 * narrow.size * size)
    im2col = Case("conv", "im2col 3x3", {"x": image}, lambda k, x: (k.im2col(x, *CONV),),
                  (image.size + cols_.size) * size)
    col2im = Case("conv", "col2im 3x3", {"c": cols_},
                  lambda k, c: (k.col2im(c, image.shape, *CONV),),
                  (image.size + cols_.size) * size)
    adam_multi = Case("optim", "adam_multi decoupled", group, adam_group, group_bytes)
    return [
        # read x, write y
        Case("activation", "act_forward gelu", {"x": x},
             lambda k, x: (k.act_forward("gelu", x),), 2 * n * size),
        # read x and grad, write dx
        Case("activation", "act_backward gelu", {"x": x, "g": g},
             lambda k, x, g: (k.act_backward("gelu", x, g),), 3 * n * size),
        # read z, write pre (into z) and out; the bias stays in cache
        Case("linear", "bias_act relu", {"z": z, "b": b},
             lambda k, z, b: k.bias_act(z, b, "relu"), 3 * z.size * size),
        # read the gradient once
        bias_grad, bias_grad.old("one row chunk", bias_grad_blocks=1),
        # read x, write y (the second and third passes over a row hit the cache)
        Case("softmax", "softmax", {"x": logits},
             lambda k, x: (k.softmax(x),), 2 * logits.size * size),
        narrow_softmax, narrow_softmax.old("block per row", warp_row_cols=0),
        # read y and grad, write dx
        Case("softmax", "softmax_backward log", {"y": REF.softmax(logits, True), "g": logits},
             lambda k, y, g: (k.softmax_backward(y, g, True),), 3 * logits.size * size),
        # read logits, write dlogits (targets and losses are one value a row)
        Case("cross_entropy", "cross_entropy smoothing=0.1", {"x": logits, "t": targets},
             lambda k, x, t: k.cross_entropy(x, t, 0.1), 2 * logits.size * size),
        narrow_ce, narrow_ce.old("block per row", warp_row_cols=0),
        # read the scores, write the weights (the causal half is never exponentiated)
        attention, attention.old("block per row", warp_row_cols=0),
        # read y and grad, write d scores
        attention_back, attention_back.old("block per row", warp_row_cols=0),
        # read param, grad, buf; write param, buf
        Case("optim", "sgd_step nesterov", {"p": x, "g": g, "b": m}, sgd, 5 * n * size),
        # read param, grad, m, v; write param, m, v
        Case("optim", "adam_step decoupled", {"p": x, "g": g, "m": m, "v": v}, adam,
             7 * n * size),
        # every tensor of a group in one launch, against one launch per tensor
        adam_multi, Case("optim", "adam_multi decoupled [old: adam_step per tensor]", group,
                         adam_each, group_bytes),
        # read the image once, write the columns
        im2col, im2col.old("64-bit indices", index32=False),
        # read the columns, write the image
        col2im, col2im.old("64-bit indices", index32=False),
    ]


def max_error(backend, case: Case) -> float:
    """Largest relative error of the backend's results against the reference."""
    expected = case.run(REF, **{k: _copy(a, np.copy) for k, a in case.inputs.items()})
    with configured(backend.kernels, case.settings) as kernels:
        actual = case.run(kernels, **{k: _copy(a, backend.from_host)
                                      for k, a in case.inputs.items()})
    errors = [np.max(np.abs(backend.to_host(a) - e) / (1 + np.abs(e)), initial=0.0)
              for a, e in zip(actual, expected, strict=True)]
    return float(max(errors))


def time_ms(backend, case: Case, warmup: int, repeats: int) -> float:
    """Median milliseconds a launch takes, by CUDA events, the L2 cache flushed before each."""
    import cupy

    arrays = {k: _copy(a, backend.from_host) for k, a in case.inputs.items()}
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


def progress(items: list, enabled: bool):
    try:
        from tqdm import tqdm
    except ImportError:
        return items
    return tqdm(items, disable=not enabled, leave=False)


def main(argv: list[str] | None = None) -> int:
    families = ["activation", "linear", "softmax", "cross_entropy", "attention", "optim", "conv"]
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("families", nargs="*", metavar="family",
                        help=f"kernel families to run (default: all of {', '.join(families)})")
    parser.add_argument("--device", default=None,
                        help="'cuda' or 'emu' (default: cuda where there is a GPU, else emu)")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=100)
    args = parser.parse_args(argv)
    unknown = sorted(set(args.families) - set(families))
    if unknown:
        parser.error(f"unknown families {unknown}; choose from {families}")

    reason = cuda_unavailable_reason()
    device = args.device or ("cuda" if reason is None else "emu")
    gpu = device.startswith("cuda")
    backend = get_backend(device)
    cases = [c for c in make_cases(gpu, np.dtype(args.dtype))
             if not args.families or c.family in args.families]
    if gpu:
        peak = peak_bandwidth(backend.index)
        print(f"{device}: peak memory bandwidth {peak / 1e9:.0f} GB/s")
    else:
        print(f"{device}: correctness only (timing needs a GPU: {reason})")

    failed = 0
    rows = []
    for case in progress(cases, sys.stderr.isatty()):
        error = max_error(backend, case)
        ok = error <= TOL[args.dtype]
        failed += not ok
        row = f"{case.name:52} {case.shape:>14} {error:9.1e} {'ok' if ok else 'FAIL':4}"
        if gpu and ok:
            ms = time_ms(backend, case, args.warmup, args.repeats)
            gbs = case.moved / ms / 1e6
            row += f" {ms:9.4f} ms {gbs:8.1f} GB/s {100 * gbs * 1e9 / peak:5.1f}% of peak"
        rows.append(row)
    print(f"{'kernel':52} {'shape':>14} {'max err':>9} {'':4}" + (
        f" {'time':>12} {'bandwidth':>13} {'':>13}" if gpu else ""))
    print("\n".join(rows))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
