"""Indexing: `x[index]` with ints, slices (any step), None, Ellipsis, integer and bool tensors
or lists (a gather whose gradient scatters back) and `x[index] = value`; masked_fill,
masked_select, nonzero, one_hot (ops/gather_scatter.py has gather, scatter
and friends).

Index values that live on a device are bounds-checked on the CPU backend only: reading them
elsewhere would wait for the GPU (on emu NumPy still refuses an out-of-range index)."""

from __future__ import annotations

import math
import operator
from typing import TYPE_CHECKING, Any

from tinygrad_nv.autograd import Function, is_grad_enabled
from tinygrad_nv.autograd.function import constant, device_call
from tinygrad_nv.ops import Exports
from tinygrad_nv.ops._checks import (
    ShapeError,
    broadcast_shapes,
    check_device,
    dim_or_axis,
    is_int,
    is_scalar,
    is_tensor,
)
from tinygrad_nv.ops._checks import axis as check_axis
from tinygrad_nv.ops.inplace import check_writable, in_place

if TYPE_CHECKING:
    from tinygrad_nv._tensor import Tensor


class IndexOutOfRange(IndexError, RuntimeError):
    """An index outside its axis (PyTorch raises IndexError for x[i], RuntimeError for
    gather and friends: this is both)."""


class Index(Function):
    """x[index]: basic indexing (a view) or advanced integer/bool indexing (a gather)."""

    saved_inputs = ()  # backward reads shapes only

    def forward(self, x, index: tuple, advanced: bool):
        self.index, self.advanced = index, advanced
        return x[index]

    def backward(self, g):
        return IndexAdd.apply(g, index=self.index, advanced=self.advanced,
                              shape=self.parents[0].shape)


class IndexAdd(Function):
    """zeros(shape) with g added at `index` (repeated indices accumulate): Index's adjoint."""

    saved_inputs = ()  # backward reads shapes only

    def forward(self, g, index: tuple, advanced: bool, shape: tuple):
        self.index, self.advanced = index, advanced
        xp = self.xp
        first = index[0] if len(index) == 1 else None
        if advanced and hasattr(first, "dtype") and first.dtype.kind in "iu":  # embedding's
            rows = first.reshape(-1)
            rows = xp.where(rows < 0, rows + shape[0], rows)
            values = g.reshape(rows.size, math.prod(shape[1:]))
            return self.kernels.index_add_rows(rows, values, shape[0]).reshape(shape)
        out = xp.zeros(shape, dtype=g.dtype)
        if advanced:
            xp.add.at(out, index, g)
        else:
            out[index] = g
        return out

    def backward(self, gg):
        return Index.apply(gg, index=self.index, advanced=self.advanced)


# ---------------------------------------------------------------------- x[index]
def getitem(x: Tensor, index: Any) -> Tensor:
    """x[index] with PyTorch's rules: basic indexing, or a gather with integer / bool tensors
    and lists (integers index first, so `x[1, :, idx]` has shape (6, len) for x of shape
    (5, 6, 7), as in PyTorch)."""
    first, then, advanced = _split_index(x, index)
    out = Index.apply(x, index=first, advanced=advanced and then is None)
    return out if then is None else Index.apply(out, index=then, advanced=True)


def setitem(x: Tensor, index: Any, value: Any) -> None:
    """x[index] = value, in place, the same index forms as x[index]: bumps x's version
    counter; not on a tensor that requires grad outside no_grad, not differentiable in value."""
    check_writable(x, "__setitem__")
    if is_tensor(value):
        if value.requires_grad and is_grad_enabled():
            raise RuntimeError("__setitem__: in-place assignment of a tensor that requires "
                               "grad is not differentiable; build the result with cat, where "
                               "or masked ops, or assign inside `with no_grad():`")
        check_device(x, value, "__setitem__")
        value = value._data
    first, then, _ = _split_index(x, index)
    try:
        device_call(x, _assign, x._data, first, then, value)
    except ValueError as e:
        raise RuntimeError(f"__setitem__: cannot assign a value of shape "
                           f"{tuple(getattr(value, 'shape', ()))} to x[index] of a tensor of "
                           f"shape {x.shape}: {e}") from None
    x._bump_version()


def _assign(xp, data, first: tuple, then: tuple | None, value: Any) -> None:
    if then is None:
        data[first] = value
    else:
        data[first][then] = value  # the first step is basic: a view into data


def _split_index(t: Tensor, index: Any) -> tuple[tuple, tuple | None, bool]:
    """The index as one tuple for the array module, or, where integers and index arrays are
    mixed, as two: the basic part first (integers, slices, None), then the gather."""
    if _plain(t, index):
        return index if type(index) is tuple else (index,), None, False
    items = [_item(t, i) for i in _as_tuple(index)]
    if sum(i is Ellipsis for i in items) > 1:
        raise IndexError("getitem: an index can only have a single ellipsis ('...')")
    rest = t.ndim - sum(_dims_used(i) for i in items)
    if rest < 0:
        raise IndexError(f"getitem: too many indices for a tensor of shape {t.shape}")
    out, axis_, arrays, ints = [], 0, False, False
    for item in items:
        if item is Ellipsis:
            out.append(item)
            axis_ += rest
        elif isinstance(item, slice) or item is None or isinstance(item, bool):
            out.append(item)
            axis_ += isinstance(item, slice)
        elif is_int(item):
            n = t.shape[axis_]
            if not -n <= item < n:
                raise IndexOutOfRange(f"getitem: index {item} is out of bounds for dimension "
                                      f"{axis_} with size {n} (shape {t.shape})")
            out.append(int(item))
            axis_, ints = axis_ + 1, True
        elif item.dtype.kind == "b":
            if item.shape != t.shape[axis_:axis_ + item.ndim]:
                raise IndexError(f"getitem: the shape of the mask {item.shape} at index "
                                 f"{axis_} does not match the shape of the indexed tensor "
                                 f"{t.shape}")
            out.extend(device_call(t, lambda xp, mask: mask.nonzero(), item))
            axis_, arrays = axis_ + item.ndim, True
        else:
            check_range(t, item, t.shape[axis_], f"dimension {axis_}", "getitem")
            out.append(item)
            axis_, arrays = axis_ + 1, True
    advanced = arrays or any(isinstance(i, bool) or hasattr(i, "dtype") for i in out)
    if not (arrays and ints):
        return tuple(out), None, advanced
    first = tuple(slice(None) if hasattr(i, "dtype") else i for i in out)
    then = tuple(i if i is Ellipsis or hasattr(i, "dtype") else slice(None) for i in out
                 if not is_int(i))
    return first, then, True


def _plain(t: Tensor, index: Any) -> bool:
    """Whether index is the common case of in-range Python ints and int slices (fast path)."""
    items = index if type(index) is tuple else (index,)
    if len(items) > t.ndim:
        return False
    for n, item in zip(t.shape, items):
        if type(item) is int:
            if not -n <= item < n:
                return False
        elif type(item) is not slice or item.step == 0 or not all(
                type(p) is int or p is None for p in (item.start, item.stop, item.step)):
            return False
    return True


def _as_tuple(index: Any) -> tuple:
    """PyTorch's reading of a list index: a tuple of indices when it holds a sequence, slice,
    None, Ellipsis or tensor (`x[[0, [1, 2]]]`), else one index (`x[[0, 1]]`)."""
    if isinstance(index, tuple):
        return index
    if isinstance(index, list) and len(index) < 32 and any(
            isinstance(i, (list, tuple, slice, range)) or i is None or i is Ellipsis
            or hasattr(i, "shape") for i in index):
        return tuple(index)
    return (index,)


def _dims_used(item: Any) -> int:
    if item is None or item is Ellipsis or isinstance(item, bool):
        return 0
    if hasattr(item, "dtype") and item.dtype.kind == "b":
        return item.ndim
    return 1


def _item(t: Tensor, item: Any) -> Any:
    """One index entry as an int, slice, None, Ellipsis, bool, or an array on t's device."""
    if item is None or item is Ellipsis or isinstance(item, bool) or is_int(item):
        return item
    if isinstance(item, range):  # x[range(n), y], as PyTorch: the integers it holds
        item = list(item)
    if hasattr(item, "dtype") and item.dtype.kind == "b" and item.ndim == 0:
        return bool(item)  # x[True] adds an axis, as x[None]
    if isinstance(item, slice):
        try:
            parts = [None if p is None else operator.index(p)
                     for p in (item.start, item.stop, item.step)]
        except TypeError:
            raise IndexError(f"getitem: slice bounds must be ints or None, got {item}") from None
        if parts[2] == 0:
            raise ValueError("getitem: slice step cannot be zero")
        return slice(*parts)
    if is_tensor(item):  # an index on another device is copied over, as PyTorch does
        array = item._data if item.device == t.device else \
            t.backend.from_host(item.backend.to_host(item._data))
        if array.dtype.kind == "u" and array.dtype.itemsize == 1:  # uint8: a mask (PyTorch)
            array = device_call(t, lambda xp, a: a.astype(bool), array)
    elif isinstance(item, (list, tuple)) or hasattr(item, "dtype"):
        try:
            array = t.backend.xp.asarray(item)
        except (ValueError, TypeError):
            raise IndexError(f"getitem: cannot use {item!r} as an index") from None
        if array.size == 0 and array.dtype.kind == "f":  # x[[]]: an empty integer index
            array = t.backend.xp.zeros(array.shape, dtype="int64")
    else:
        raise IndexError(f"getitem: unsupported index {item!r} (valid: int, slice, None, "
                         "Ellipsis, integer or bool Tensor/list)")
    if array.dtype.kind not in "iub":
        raise IndexError(f"getitem: tensors used as indices must be integer or bool, got "
                         f"{array.dtype.name}")
    return array


def check_range(t: Tensor, index, n: int, where: str, op: str, negative: bool = True) -> None:
    """Raise IndexOutOfRange for an index array with values outside [-n, n) ([0, n) without
    `negative`); done where the values are on the host (the CPU backend)."""
    if not t.backend.checks_values or index.size == 0:
        return
    low, high = int(index.min()), int(index.max())
    if high >= n or low < (-n if negative else 0):
        bad = high if high >= n else low
        raise IndexOutOfRange(f"{op}: index {bad} is out of bounds for {where} with size {n} "
                              f"(shape {t.shape})")


# ---------------------------------------------------------------------- masks
def _mask(x: Tensor, mask: Any, op: str) -> Tensor:
    if not is_tensor(mask):
        raise TypeError(f"{op}: mask must be a bool tensor, got {type(mask).__name__}")
    check_device(x, mask, op)
    if mask.dtype.kind != "b":
        raise RuntimeError(f"{op}: only supports boolean masks, got mask with dtype "
                           f"{mask.dtype.name}")
    return mask


def masked_fill(x: Tensor, mask: Tensor, value: Any) -> Tensor:
    """x with `value` (a number or 0-d tensor, converted to x's dtype) where `mask` is True;
    mask and x broadcast. The gradient is 0 at the filled places (and flows to a tensor
    value).

    >>> scores.masked_fill(~causal, float("-inf"))
    """
    mask = _mask(x, mask, "masked_fill")
    if is_tensor(value):
        check_device(x, value, "masked_fill")
        if value.ndim != 0:
            raise ShapeError(f"masked_fill: only supports a 0-dimensional value tensor, got "
                             f"shape {value.shape}")
        value = value.cast(x.dtype)
    elif is_scalar(value):
        value = x._like(device_call(x, lambda xp: xp.asarray(value).astype(x.dtype)))
    else:
        raise TypeError(f"masked_fill: value must be a number or a 0-d tensor, got "
                        f"{type(value).__name__}")
    try:
        broadcast_shapes(x.shape, mask.shape)
    except ValueError:
        raise ShapeError(f"masked_fill: mask of shape {mask.shape} does not broadcast with "
                         f"the input of shape {x.shape}") from None
    return mask.where(value, x)


def index_fill(x: Tensor, dim: int | None = None, index: Tensor | None = None,
               value: Any = None, *, axis: int | None = None) -> Tensor:
    """x with `value` (a number or 0-d tensor) at the places `index` (a 0-d or 1-D integer
    tensor) names along `dim`, as torch.index_fill. The gradient is 0 there (and flows to a
    tensor value).

    >>> Tensor([[1, 2, 3], [4, 5, 6]]).index_fill(1, Tensor([0, 2]), -1).tolist()
    """
    d = check_axis(x, dim_or_axis(dim, axis, "index_fill"), "index_fill")
    if value is None:
        raise TypeError("index_fill: missing the value to fill with (a number or 0-d tensor)")
    if not is_tensor(index) or index.dtype.kind not in "iu" or index.ndim > 1:
        raise IndexError(f"index_fill: index must be a 0-d or 1-D integer tensor, got "
                         f"{_describe(index)}")
    check_device(x, index, "index_fill")
    n = x.shape[d] if x.ndim else 1
    check_range(x, index._data, n, f"dimension {d}", "index_fill")

    def along_axis(xp, i):
        mask = xp.zeros(n, dtype=bool)
        mask[i.reshape(-1)] = True
        return mask.reshape((n,) + (1,) * (x.ndim - 1 - d) if x.ndim else ())
    return masked_fill(x, constant(along_axis, index), value)


def _describe(value: Any) -> str:
    if is_tensor(value):
        return f"a {value.dtype.name} tensor of shape {value.shape}"
    return type(value).__name__


def masked_select(x: Tensor, mask: Tensor, size: int | None = None, fill_value: Any = 0
                  ) -> Tensor:
    """The values of x where `mask` is True (x and mask broadcast), as a 1-D tensor. With
    `size`, exactly that many (cut, or padded with `fill_value`), found without reading the
    count back from the device."""
    mask = _mask(x, mask, "masked_select")
    try:
        shape = broadcast_shapes(x.shape, mask.shape)
    except ValueError:
        raise ShapeError(f"masked_select: mask of shape {mask.shape} does not broadcast with "
                         f"the input of shape {x.shape}") from None
    flat = x.expand(*shape).reshape(-1)
    if size is None:
        return flat[mask.expand(*shape).reshape(-1)]
    places, missing = device_call(x, _first_true, mask._data, shape, size, "masked_select")
    picked = Index.apply(flat, index=(x.backend.xp.minimum(places, max(flat.numel() - 1, 0)),),
                         advanced=True) if flat.numel() else flat._like(
        x.backend.xp.zeros(size, dtype=x.dtype))
    return masked_fill(picked, x._like(missing), fill_value)


def _first_true(xp, mask, shape: tuple, size: int, op: str):
    """Flat positions of the first `size` True values of mask (broadcast to shape), and
    which of them do not exist, computed on the device (a running count and a sorted
    search)."""
    if not is_int(size) or size < 0:
        raise ValueError(f"{op}: size must be a non-negative int, got {size!r}")
    count = xp.cumsum(xp.broadcast_to(mask, shape).reshape(-1))
    places = xp.searchsorted(count, xp.arange(1, size + 1), side="left")
    return places, places >= count.size


def nonzero(x: Tensor, size: int | None = None, fill_value: Any = 0, *,
            as_tuple: bool = False) -> Tensor | tuple[Tensor, ...]:
    """The indices of the non-zero elements: an int64 tensor of shape (count, ndim), or with
    as_tuple one 1-D tensor per axis. The count is read from the device, unless `size` is
    given: then exactly `size` rows (cut, or padded with `fill_value`)."""
    if size is not None:
        fill = int(fill_value)
        out = constant(lambda xp, a: _first_nonzero(xp, a, size, fill), x)
        return tuple(out[:, a] for a in range(x.ndim)) if as_tuple else out
    if as_tuple:
        return tuple(x._like(c) for c in device_call(x, _nonzero_coords, x._data))
    return constant(lambda xp, a: xp.argwhere(a).astype("int64", copy=False), x)


def _nonzero_coords(xp, a) -> list:
    """One int64 array of coordinates per axis (one for a 0-d array)."""
    return [c.astype("int64", copy=False) for c in xp.nonzero(xp.atleast_1d(a))]


def _first_nonzero(xp, a, size: int, fill_value: int):
    """The coordinates of the first `size` nonzero elements of a, (size, a.ndim) int64, rows
    past the last one filled with fill_value."""
    places, missing = _first_true(xp, a != 0, a.shape, size, "nonzero")
    coords = xp.stack(xp.unravel_index(xp.minimum(places, max(a.size - 1, 0)), a.shape),
                      axis=-1) if a.size and a.ndim else xp.zeros((size, a.ndim), dtype="int64")
    coords = xp.where(missing[:, None], fill_value, coords.reshape(size, a.ndim))
    return coords.astype("int64", copy=False)


def one_hot(x: Tensor, num_classes: int = -1) -> Tensor:
    """int64 rows (..., num_classes) with a 1 at each index of x; num_classes=-1 infers
    max(x) + 1.

    >>> Tensor([0, 2]).one_hot(3).tolist()    # [[1, 0, 0], [0, 0, 1]]
    """
    if x.dtype.kind not in "iu":
        raise RuntimeError(f"one_hot: is only applicable to integer index tensors, got "
                           f"{x.dtype.name}")
    if not is_int(num_classes) or num_classes < -1:
        raise ValueError(f"one_hot: num_classes must be -1 or a non-negative int, got "
                         f"{num_classes}")
    checked = x.backend.checks_values or num_classes == -1
    if num_classes == -1 and x.numel() == 0:
        raise RuntimeError("one_hot: can not infer the total number of classes from an empty "
                           "tensor")
    if checked and x.numel():
        bounds = device_call(x, lambda xp, a: xp.stack([a.min(), a.max()]), x._data)
        low, high = (int(v) for v in x.backend.to_host(bounds))
        num_classes = high + 1 if num_classes == -1 else num_classes
        if low < 0:
            raise RuntimeError(f"one_hot: class values must be non-negative, got {low}")
        if high >= num_classes:
            raise RuntimeError(f"one_hot: class values must be smaller than num_classes "
                               f"({num_classes}), got {high}")
    return constant(lambda xp, a: (a[..., None] == xp.arange(num_classes)).astype("int64"), x)


# ---------------------------------------------------------------------- public names
_PUBLIC = {  # Tensor methods and package functions (torch.<name>)
    "masked_fill": masked_fill, "masked_select": masked_select, "nonzero": nonzero,
    "index_fill": index_fill,
}
EXPORTS = Exports(methods={**_PUBLIC, "one_hot": one_hot,
                           "masked_fill_": in_place(masked_fill, "masked_fill_"),
                           "index_fill_": in_place(index_fill, "index_fill_")},
                  functions=_PUBLIC, functional={"one_hot": one_hot})
