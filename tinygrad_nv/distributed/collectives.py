"""Collectives on Tensors, in place as in `torch.distributed`: every process calls the same
collective in the same order with tensors of the same shape and dtype.

CPU (and `emu`) tensors go through MPI on their own buffers; `cuda` tensors through NCCL
(or MPI by way of host copies where NCCL is missing).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from tinygrad_nv._tensor import Tensor
from tinygrad_nv.distributed.comm import World, world
from tinygrad_nv.distributed.engines import engine_for, on_device

REDUCE_OPS = ("sum", "mean", "max", "min")
DTYPES = tuple(np.dtype(name) for name in ("float32", "float64", "float16", "int8", "uint8",
                                           "int16", "int32", "int64", "bool"))


def _check_tensor(op: str, tensor: Any) -> None:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(tensor).__name__}")
    if tensor.dtype not in DTYPES:
        raise TypeError(f"{op}: dtype {tensor.dtype.name} is not supported; valid dtypes: "
                        f"{', '.join(d.name for d in DTYPES)}")
    if not getattr(tensor._data.flags, "writeable", True):
        raise RuntimeError(f"{op}: the tensor (shape {tuple(tensor.shape)}) is a read-only view "
                           f"(an expanded or broadcast tensor); pass a copy made with .clone()")


@contextlib.contextmanager
def _flat(tensor: Tensor) -> Iterator[Any]:
    """The tensor's values as one contiguous 1-D array (bool seen as uint8) that the engines
    write into; copied back into the tensor afterwards when it was not contiguous."""
    data = tensor._data
    contiguous = data.flags.c_contiguous
    array = data if contiguous else tensor.backend.xp.ascontiguousarray(data)
    flat = array.reshape(-1)
    with on_device(data):
        yield flat.view(np.uint8) if flat.dtype == np.bool_ else flat
        if not contiguous:
            data[...] = array
    tensor._bump_version()  # changed in place: a backward that saved it must notice


def all_reduce(tensor: Tensor, op: str = "sum") -> Tensor:
    """Reduce `tensor` across all processes in place ("sum", "mean", "max" or "min") and
    return it. On bool tensors "sum" and "max" are a logical or, "min" a logical and.

    >>> t = Tensor([float(dist.rank())]); dist.all_reduce(t)   # 0 + 1 + ... on every rank
    """
    w = world("all_reduce")
    _check_tensor("all_reduce", tensor)
    if op not in REDUCE_OPS:
        raise ValueError(f"all_reduce: unknown op {op!r}; valid ops: {', '.join(REDUCE_OPS)}")
    if op == "mean" and tensor.dtype.kind != "f":
        raise TypeError(f"all_reduce: op 'mean' needs a floating point tensor, got "
                        f"{tensor.dtype.name}; use op='sum' and divide")
    if tensor.dtype == np.bool_ and op == "sum":
        op = "max"
    with _flat(tensor) as flat:
        if w.comm is not None and flat.size:
            engine_for(w, flat).all_reduce(flat, "sum" if op == "mean" else op)
        if op == "mean" and w.size > 1:
            flat /= w.size
    return tensor


def broadcast(tensor: Tensor, src: int = 0) -> Tensor:
    """Overwrite `tensor` on every process with its values on rank `src`; returns it."""
    w = world("broadcast")
    _check_tensor("broadcast", tensor)
    _check_rank("broadcast", "src", src, w)
    with _flat(tensor) as flat:
        if w.comm is not None and flat.size:
            engine_for(w, flat).broadcast(flat, src)
    return tensor


def all_gather(tensor_list: list[Tensor], tensor: Tensor) -> list[Tensor]:
    """Fill `tensor_list[i]` with `tensor` of rank i, for every rank (torch's signature; the
    list must hold world_size() tensors of tensor's shape, dtype and device). Returns the
    list.

    >>> parts = [Tensor.zeros(3) for _ in range(dist.world_size())]
    >>> dist.all_gather(parts, Tensor.ones(3) * dist.rank())
    """
    w = world("all_gather")
    _check_tensor("all_gather", tensor)
    if not isinstance(tensor_list, list) or len(tensor_list) != w.size:
        raise ValueError(f"all_gather: tensor_list must be a list of world_size() = {w.size} "
                         f"tensors, got {_describe(tensor_list)}")
    for i, t in enumerate(tensor_list):
        _check_tensor("all_gather", t)
        if (t.shape, t.dtype, t.device) != (tensor.shape, tensor.dtype, tensor.device):
            raise ValueError(f"all_gather: tensor_list[{i}] is {tuple(t.shape)} {t.dtype.name} on "
                             f"{t.device} but tensor is {tuple(tensor.shape)} {tensor.dtype.name} "
                             f"on {tensor.device}; they must match")
    with _flat(tensor) as flat:
        gathered = tensor.backend.xp.empty((w.size, flat.size), dtype=flat.dtype)
        if w.comm is None:
            gathered[0] = flat
        elif flat.size:
            engine_for(w, flat).all_gather(flat, gathered)
    for t, values in zip(tensor_list, gathered):
        t._data[...] = values.view(t.dtype).reshape(t.shape)
        t._bump_version()
    return tensor_list


def _check_rank(op: str, name: str, value: Any, w: World) -> None:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) \
            or not 0 <= value < w.size:
        raise ValueError(f"{op}: {name} must be a rank in [0, {w.size - 1}], got {value!r}")


def _describe(value: Any) -> str:
    if isinstance(value, list):
        return f"a list of {len(value)}"
    return type(value).__name__
