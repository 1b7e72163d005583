"""Indexing: `x[index]` with ints, slices, None, Ellipsis, integer and bool tensors or lists
(a gather whose gradient scatters back), and `x[index] = value`."""

from __future__ import annotations

import numbers
from typing import TYPE_CHECKING, Any

from tinygrad_nv.autograd import Function
from tinygrad_nv.ops._checks import check_device, is_int, is_tensor

if TYPE_CHECKING:
    from tinygrad_nv.tensor import Tensor


class Index(Function):
    """x[index]: basic indexing (a view) or advanced integer/bool indexing (a gather)."""

    def forward(self, x, index: tuple, advanced: bool):
        self.index, self.advanced = index, advanced
        return x[index]

    def backward(self, g):
        return IndexAdd.apply(g, index=self.index, advanced=self.advanced,
                              shape=self.parents[0].shape)


class IndexAdd(Function):
    """zeros(shape) with g added at `index` (repeated indices accumulate): Index's adjoint."""

    def forward(self, g, index: tuple, advanced: bool, shape: tuple):
        self.index, self.advanced = index, advanced
        out = self.xp.zeros(shape, dtype=g.dtype)
        if advanced:
            self.xp.add.at(out, index, g)
        else:
            out[index] = g
        return out

    def backward(self, gg):
        return Index.apply(gg, index=self.index, advanced=self.advanced)


# ---------------------------------------------------------------------- functions
def getitem(x: Tensor, index: Any) -> Tensor:
    """x[index]: basic indexing, or a gather with integer / bool tensors and lists."""
    index, advanced = normalize_index(x, index)
    return Index.apply(x, index=index, advanced=advanced)


def setitem(x: Tensor, index: Any, value: Any) -> None:
    """x[index] = value, in place (not on tensors that require grad)."""
    if x.requires_grad:
        raise RuntimeError("__setitem__: in-place assignment into a tensor that requires "
                           "grad is not supported; build a new tensor (e.g. with where)")
    value = value.data if is_tensor(value) else value
    x.data[normalize_index(x, index)[0]] = value


def normalize_index(t: Tensor, index: Any) -> tuple[tuple, bool]:
    """An index as a tuple the array module understands, and whether it gathers."""
    items = [_index_item(t, item) for item in
             (index if isinstance(index, tuple) else (index,))]
    ellipsis_axes = t.ndim - sum(0 if i is None or i is Ellipsis else
                                 i.ndim if hasattr(i, "dtype") and i.dtype.kind == "b" else 1
                                 for i in items)
    out, advanced, axis = [], False, 0
    for item in items:
        if item is None:
            out.append(None)
        elif item is Ellipsis:
            out.append(Ellipsis)
            axis += ellipsis_axes
        elif isinstance(item, slice):
            for part in (item.start, item.stop, item.step):
                if part is not None and not isinstance(part, numbers.Integral):
                    raise IndexError(f"getitem: slice bounds must be ints, got {item}")
            if item.step is not None and item.step <= 0:
                raise ValueError(f"getitem: slice steps must be positive, got {item}")
            out.append(item)
            axis += 1
        elif is_int(item):
            if axis >= t.ndim or not -t.shape[axis] <= item < t.shape[axis]:
                raise IndexError(f"getitem: index {item} is out of range for axis {axis} of a "
                                 f"tensor of shape {t.shape}")
            out.append(int(item))
            axis += 1
        elif hasattr(item, "dtype") and item.dtype.kind == "b":
            out.extend(item.nonzero())
            advanced, axis = True, axis + item.ndim
        elif hasattr(item, "dtype") and item.dtype.kind in "iu":
            if axis >= t.ndim:
                raise IndexError(f"getitem: too many indices for a tensor of shape {t.shape}")
            n = t.shape[axis]
            if item.size and (int(item.max()) >= n or int(item.min()) < -n):
                raise IndexError(f"getitem: index tensor has values outside [{-n}, {n - 1}] "
                                 f"for axis {axis} of a tensor of shape {t.shape}")
            out.append(item)
            advanced, axis = True, axis + 1
        else:
            raise IndexError(f"getitem: unsupported index {item!r} (valid: int, slice, None, "
                             "Ellipsis, integer or bool Tensor/list)")
    if axis > t.ndim:
        raise IndexError(f"getitem: too many indices ({axis}) for a tensor of shape {t.shape}")
    return tuple(out), advanced


def _index_item(t: Tensor, item: Any) -> Any:
    """Tensors and lists inside an index as arrays on t's device."""
    if is_tensor(item):
        check_device(t, item, "getitem")
        return item.data
    if isinstance(item, list):
        array = t.backend.xp.asarray(item)
        if array.dtype.kind not in "iub":
            raise IndexError(f"getitem: list indices must hold ints or bools, got {item}")
        return array
    return item
