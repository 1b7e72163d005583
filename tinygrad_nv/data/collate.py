"""Turning samples into batches: `default_collate` (stack a list of samples), `default_convert`
(arrays of one sample to Tensors), `pin_memory` (page-locked host copies on a CUDA host), and
`map_structure`, the walk over nested containers that they and the loader share
(PyTorch's `torch.utils.data` semantics).

>>> default_collate([(np.zeros(3), 1), (np.ones(3), 2)])    # [Tensor (2, 3), Tensor([1, 2])]
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from numbers import Number
from typing import Any

import numpy as np

from tinygrad_nv._tensor import Tensor
from tinygrad_nv.backend import cuda_unavailable_reason, get_backend


def map_structure(data: Any, kind: type | tuple[type, ...], fn: Callable[[Any], Any]) -> Any:
    """`data` with every instance of `kind` inside nested mappings, namedtuples, tuples and
    lists replaced by fn(instance); container types are kept where they can be rebuilt
    (namedtuples are always walked, never passed to fn)."""
    if isinstance(data, tuple) and hasattr(data, "_fields"):  # namedtuple
        return type(data)(*(map_structure(value, kind, fn) for value in data))
    if isinstance(data, kind):
        return fn(data)
    if isinstance(data, str | bytes):
        return data
    if isinstance(data, Mapping):
        items = {key: map_structure(value, kind, fn) for key, value in data.items()}
        if isinstance(data, MutableMapping):
            clone = copy.copy(data)
            clone.update(items)
            return clone
        return items
    if isinstance(data, tuple | list):
        items = [map_structure(value, kind, fn) for value in data]
        try:
            return type(data)(items)
        except TypeError:  # a subclass with another constructor
            return items
    return data


def default_collate(batch: Sequence[Any], device: str | None = None) -> Any:
    """Stack a list of samples as torch's default_collate does: Tensors and NumPy arrays into
    one Tensor with a new first axis, Python floats into float64, ints into int64, bools into
    bool Tensors; tuples and lists position by position (a list), dicts key by key; strings
    stay a list. Tensors are made on `device` (the default device when None)."""
    elem = batch[0]
    if isinstance(elem, Tensor):
        out = Tensor.stack(list(batch))
        return out if device is None else out.to(device)
    if isinstance(elem, np.ndarray | np.number | np.bool_):
        if elem.dtype.kind not in "biuf":
            raise TypeError(f"default_collate: cannot batch NumPy arrays of dtype {elem.dtype}"
                            " (only bool, integer and floating point)")
        return Tensor(np.stack(batch), device=device)
    if isinstance(elem, str | bytes):
        return list(batch)
    if isinstance(elem, bool):
        return Tensor(np.array(batch, dtype=np.bool_), device=device)
    if isinstance(elem, int):
        return Tensor(np.array(batch, dtype=np.int64), device=device)
    if isinstance(elem, Number):
        return Tensor(np.array(batch, dtype=np.float64), device=device)
    if isinstance(elem, Mapping):
        return {key: default_collate([sample[key] for sample in batch], device)
                for key in elem}
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return type(elem)(*(default_collate(list(s), device) for s in zip(*batch)))
    if isinstance(elem, Sequence):
        if any(len(sample) != len(elem) for sample in batch):
            raise RuntimeError("default_collate: each element in the batch should be of equal "
                               f"size, got sizes {[len(sample) for sample in batch]}")
        return [default_collate(list(samples), device) for samples in zip(*batch)]
    raise TypeError(f"default_collate: a batch must contain Tensors, NumPy arrays, numbers, "
                    f"strings, dicts or sequences; found {type(elem).__name__}")


def default_convert(data: Any, device: str | None = None) -> Any:
    """One sample without batching (the DataLoader's collation with batch_size=None): NumPy
    arrays of numbers become Tensors on `device`, tuples become lists (as torch's), the rest
    stays.

    >>> default_convert((np.arange(2), "a"))    # [Tensor([0, 1]), 'a']
    """
    def convert(value: tuple | np.ndarray | np.generic) -> Any:
        if isinstance(value, tuple):  # a plain one: namedtuples are walked by map_structure
            return [default_convert(v, device) for v in value]
        return Tensor(value, device=device) if value.dtype.kind in "biuf" else value

    return map_structure(data, (tuple, np.ndarray, np.generic), convert)


def pin_memory(data: Any) -> Any:
    """`data` with each CPU Tensor inside copied into page-locked host memory, from which
    copies to the GPU are faster (PyTorch's pin_memory; through CuPy). A no-op where no CUDA
    device is visible. A batch type of your own may define `pin_memory()`."""
    if cuda_unavailable_reason() is not None:
        return data
    if hasattr(data, "pin_memory") and not isinstance(data, Tensor):
        return data.pin_memory()
    xp = get_backend("cuda").xp

    def pin(t: Tensor) -> Tensor:
        if t.device.type != "cpu":
            return t
        out = np.ndarray(t.shape, t._data.dtype,
                         buffer=xp.cuda.alloc_pinned_memory(max(t._data.nbytes, 1)))
        out[...] = t._data
        return Tensor._from_op(out, t._backend, None)

    return map_structure(data, Tensor, pin)
