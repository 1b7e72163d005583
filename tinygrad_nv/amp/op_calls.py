"""One sample call of every floating-point op we have, in PyTorch's and in our spelling, and
the dtype PyTorch's CPU autocast gives its result: how the CPU table of autocast_lists.py is
recorded, and how the tests re-check both tables.

    python -m tinygrad_nv.amp.op_calls          # prints the CPU table recorded from torch

`calls(lib)` builds the sample arguments with `lib` ("torch" or "tinygrad_nv"): float32
tensors of small shapes, integer targets where an op needs them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import numpy as np

# argument patterns, tried in order for an op without an entry in SPECIAL: the first that
# both libraries accept without autocast is the op's sample call
PATTERNS = ("x", "x,y", "x,-1", "x,1", "x,1,0", "x,y,z")
# ops whose sample call needs other arguments (names resolve in _arguments)
SPECIAL = {
    "conv1d": "x3,w3", "conv2d": "x4,w4", "conv_transpose2d": "x4,wt4", "bmm": "b,b",
    "mv": "x,v", "dot": "v,v", "ger": "v,v", "outer": "v,v", "einsum": "'ij,jk->ik',x,y",
    "tensordot": "x,y,1", "linear": "x,y,v", "bilinear": "x,y,w3b",
    "layer_norm": "x,(4,)", "group_norm": "x4,2", "instance_norm": "x4", "rms_norm": "x,(4,)",
    "batch_norm": "x,None,None,None,None,True", "local_response_norm": "x4,2",
    "cross_entropy": "x,t", "nll_loss": "x,t", "multi_margin_loss": "x,t",
    "binary_cross_entropy": "p,q", "multilabel_soft_margin_loss": "x,q",
    "multilabel_margin_loss": "x,tm",
    "cosine_embedding_loss": "x,y,s", "margin_ranking_loss": "v,v,s",
    "triplet_margin_loss": "x,y,z", "gaussian_nll_loss": "x,y,p", "poisson_nll_loss": "x,y",
    "scaled_dot_product_attention": "b,b,b", "interpolate": "x4,None,2",
    "max_pool1d": "x3,2", "avg_pool1d": "x3,2", "max_pool2d": "x4,2", "avg_pool2d": "x4,2",
    "adaptive_avg_pool1d": "x3,2", "adaptive_max_pool1d": "x3,2",
    "adaptive_avg_pool2d": "x4,2", "adaptive_max_pool2d": "x4,2", "embedding": "t,x",
    "glu": "x", "fold": "cols,(3,3),(2,2)", "pixel_shuffle": "x4b,2", "pixel_unshuffle": "x4,1",
    "pad": "x,(1,1)", "cat": "[x,y]", "stack": "[x,y]", "hstack": "[x,y]", "vstack": "[x,y]",
    "where": "m,x,y", "masked_fill": "x,m,0.5", "lerp": "x,y,0.5", "pow": "x,2",
    "kl_div": "x,p", "ctc_loss": None, "one_hot": None, "logsumexp": "x,1", "norm": "x",
    "cosine_similarity": "x,y", "pairwise_distance": "x,y", "normalize": "x",
    "var_mean": "x,1", "std_mean": "x,1", "gather": "x,1,ti", "take_along_dim": "x,ti,1",
    "scatter": "x,1,ti,y", "scatter_add": "x,1,ti,y", "scatter_reduce": "x,1,ti,y,'sum'",
    "index_select": "x,0,tv", "repeat_interleave": "x,2", "unfold": "x,0,2,1", "fix": "x",
    "split": "x,2", "chunk": "x,2", "unflatten": "x,1,(2,2)", "tile": "x,(2,)",
    "repeat": "x,2,1", "expand": "x,4,4", "view": "x,16", "reshape": "x,(16,)",
    "rdiv": "x,2.0", "rpow": "x,2.0", "flip": "x,(0,)", "permute": "x,(1,0)",
    "clamp": "x,0.2,0.8", "clip": "x,0.2,0.8", "baddbmm": "b,b,b", "renorm": "x,2,0,1.0",
    "addbmm": "x,b,b", "addmv": "v,x,v", "addr": "x,v,v", "vdot": "v,v", "polygamma": "1,x",
    "quantile": "x,0.5", "nanquantile": "x,0.5",
}
SKIP = {"ctc_loss", "one_hot", "nonzero", "masked_select", "allclose", "argmax", "argmin",
        "argsort", "count_nonzero"}  # no floating result or data-dependent shape


DUNDERS = {"rdiv": "__rtruediv__", "rpow": "__rpow__"}  # ops reached only as operators


def _resolve(lib: Any, functional: Any, name: str) -> Callable | None:
    if name in DUNDERS:
        return lambda x, *a: getattr(x, DUNDERS[name])(*a)
    for space in (functional, lib):  # F.batch_norm, not the ATen op torch.batch_norm
        fn = getattr(space, name, None)
        if callable(fn):
            return fn
    method = getattr(lib.Tensor, name, None)
    return None if method is None else (lambda x, *a, **k: getattr(x, name)(*a, **k))


def _arguments(lib: Any, pattern: str, dtype: Any, device: str = "cpu") -> tuple:
    """The sample arguments of a pattern in `lib`, floating ones of `dtype`."""
    rng = np.random.default_rng(0)

    def t(shape, low=0.1, high=0.9):
        return lib.tensor(rng.uniform(low, high, shape).astype(np.float32),
                          device=device).to(dtype)

    def ints(values):
        return lib.tensor(np.array(values, dtype=np.int64), device=device)

    names = {
        "x": lambda: t((4, 4)), "y": lambda: t((4, 4)), "z": lambda: t((4, 4)),
        "p": lambda: t((4, 4)), "q": lambda: t((4, 4), 0.0, 1.0), "v": lambda: t((4,)),
        "x3": lambda: t((1, 2, 6)), "w3": lambda: t((3, 2, 2)), "x4": lambda: t((1, 2, 4, 4)),
        "w4": lambda: t((3, 2, 2, 2)), "wt4": lambda: t((2, 3, 2, 2)),
        "x4b": lambda: t((1, 4, 2, 2)), "b": lambda: t((2, 4, 4)),
        "w3b": lambda: t((3, 4, 4)), "cols": lambda: t((1, 4, 4)),
        "t": lambda: ints([0, 1, 2, 3]), "ti": lambda: ints([[0], [1], [2], [3]]),
        "tv": lambda: ints([0, 2]), "tm": lambda: ints([[0, 1, -1, 0], [2, -1, 0, 0],
                                                        [3, 0, 1, -1], [1, 2, 3, 0]]),
        "s": lambda: t((4,), 1.0, 1.0) * lib.tensor(
            np.array([1.0, -1, 1, -1], np.float32), device=device).to(dtype),
        "m": lambda: lib.tensor(np.eye(4, dtype=bool), device=device),
    }
    args = []
    for token in _split(pattern):
        args.append(names[token]() if token in names else eval(token))  # literals only
    return tuple(args)


def _split(pattern: str) -> list[str]:
    """'x,(4,),[x,y]' -> ['x', '(4,)', '[x,y]'] (commas inside brackets or quotes kept)."""
    out, depth, quoted, token = [], 0, False, ""
    for c in pattern:
        quoted ^= c == "'"
        if c == "," and depth == 0 and not quoted:
            out.append(token)
            token = ""
            continue
        depth += (c in "([") - (c in ")]")
        token += c
    return [*out, token] if token else out


def _result_dtype(out: Any) -> Any:
    while isinstance(out, (tuple, list)):
        out = out[0]
    return getattr(out, "dtype", None)


def _call(lib: Any, functional: Any, name: str, pattern: str, dtype: Any,
          device: str = "cpu") -> Any:
    fn = _resolve(lib, functional, name)
    if pattern.startswith("["):  # a list of tensors: built from the same names
        return _result_dtype(fn(list(_arguments(lib, pattern.strip("[]"), dtype, device))))
    return _result_dtype(fn(*_arguments(lib, pattern, dtype, device)))


def sample_pattern(name: str, with_torch: bool = True) -> str | None:
    """The argument pattern of `name` that tinygrad_nv (and PyTorch, with_torch) take with a
    float32 result (None: none)."""
    import tinygrad_nv as tg
    gf = importlib.import_module("tinygrad_nv.nn.functional")
    libs = [(tg, gf, tg.float32)]
    if with_torch:
        import torch
        libs.append((torch, importlib.import_module("torch.nn.functional"), torch.float32))
    if name in SKIP or any(_resolve(lib, f, name) is None for lib, f, _ in libs):
        return None
    for pattern in ([SPECIAL[name]] if name in SPECIAL else PATTERNS):
        try:
            if all(_call(lib, f, name, pattern, f32) == f32 for lib, f, f32 in libs):
                return pattern
        except Exception:  # noqa: BLE001, S112  (not this pattern)
            continue
    return None


def our_dtypes(name: str, pattern: str, device_type: str, low: Any,
               device: str) -> tuple[str, str]:
    """torch_cpu_dtypes for tinygrad_nv on `device` under autocast(device_type, low)."""
    import tinygrad_nv as tg
    gf = importlib.import_module("tinygrad_nv.nn.functional")
    with tg.autocast(device_type, dtype=low):
        wide = _call(tg, gf, name, pattern, tg.float32, device)
        narrow = _call(tg, gf, name, pattern, low, device)
    return wide.name, narrow.name


def our_names() -> list[str]:
    """Every op name of tinygrad_nv's tables and nn.functional (in-place ones excluded)."""
    from tinygrad_nv import _tensor
    functional = importlib.import_module("tinygrad_nv.nn.functional")
    names: set[str] = set()
    for kind in _tensor.KINDS:
        names |= set(kind.EXPORTS.methods) | set(kind.EXPORTS.functions)
    names |= {n for n in dir(functional) if n[0].islower() and callable(getattr(functional, n))}
    return sorted(n for n in names if not n.endswith("_"))


def torch_cpu_dtypes(name: str, pattern: str, low: Any) -> tuple[str, str]:
    """The result dtypes of `name` under torch.autocast('cpu', low) for float32 inputs and
    for `low` inputs."""
    import torch
    import torch.nn.functional as tf
    with torch.autocast("cpu", dtype=low):
        wide = _call(torch, tf, name, pattern, torch.float32)
        narrow = _call(torch, tf, name, pattern, low)
    return str(wide).removeprefix("torch."), str(narrow).removeprefix("torch.")


def category(wide: str, narrow: str, low: str) -> str | None:
    """autocast_lists' category from the two result dtypes: 'low' (cast to the low dtype),
    'fp32' (cast to float32) or None (run in the input dtype)."""
    if wide == low:
        return "low"
    if narrow == "float32":
        return "fp32"
    return None


def record_cpu_table() -> dict[str, dict[str, str]]:
    """{low dtype name: {op: category}} from PyTorch's CPU autocast, for every op we have."""
    import torch
    table: dict[str, dict[str, str]] = {}
    patterns = {name: sample_pattern(name) for name in our_names()}
    for low in (torch.bfloat16, torch.float16):
        low_name = str(low).removeprefix("torch.")
        row = {}
        for name, pattern in patterns.items():
            if pattern is not None:
                cat = category(*torch_cpu_dtypes(name, pattern, low), low_name)
                if cat is not None:
                    row[name] = cat
        table[low_name] = row
    return table


if __name__ == "__main__":
    import torch
    print(f"# recorded from torch {torch.__version__}")
    for low, row in record_cpu_table().items():
        print(low, dict(sorted(row.items())))
