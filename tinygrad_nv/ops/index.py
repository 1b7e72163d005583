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

from tinygrad_nv.autograd import Function
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
from tinygrad_nv.ops.elementwise import unbroadcast
from tinygrad_nv.ops.inplace import as_value, in_place, recorded, update

if TYPE_CHECKING:
    from tinygrad_nv._tensor import Tensor


class IndexOutOfRange(IndexError, RuntimeError):
    """An index outside its axis (PyTorch raises IndexError for x[i], RuntimeError for
    gather and friends: this is both)."""


class Index(Function):
    """x[index]: basic indexing (a view) or advanced integer/bool indexing (a gather)."""

    moves_only = True  # (no arithmetic: nothing for NumPy to warn about)

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


class IndexPut(Function):
    """x with value assigned at index (`first`, then `then`: see _split_index), out of place:
    what x[index] = value records. x's gradient is zero at the assigned places; value gets
    the gradient there, summed to its shape."""

    saved_inputs = ()  # backward reads shapes only

    def forward(self, x, value, first: tuple, then: tuple | None, advanced: bool):
        self.first, self.then, self.advanced = first, then, advanced
        out = x.copy()
        _assign(self.xp, out, first, then, value)
        return out

    def backward(self, g):
        x, value = self.parents
        where = dict(first=self.first, then=self.then, advanced=self.advanced)
        gx = IndexPut.apply(g, g._like(self.xp.zeros((), dtype=g.dtype)), **where) \
            if self.needs_input_grad[0] else None
        gv = unbroadcast(take(g, **where), value.shape) if self.needs_input_grad[1] else None
        return gx, gv


# ---------------------------------------------------------------------- x[index]
def getitem(x: Tensor, index: Any) -> Tensor:
    """x[index] with PyTorch's rules: basic indexing, or a gather with integer / bool tensors
    and lists (integers index first, so `x[1, :, idx]` has shape (6, len) for x of shape
    (5, 6, 7), as in PyTorch)."""
    return take(x, *_split_index(x, index))


def take(x: Tensor, first: tuple, then: tuple | None, advanced: bool) -> Tensor:
    """x[index] for an index split by _split_index."""
    out = Index.apply(x, index=first, advanced=advanced and then is None)
    return out if then is None else Index.apply(out, index=then, advanced=True)


def setitem(x: Tensor, index: Any, value: Any) -> None:
    """x[index] = value, in place, the same index forms as x[index]: bumps x's version
    counter. Recorded where grad mode is on and x or value requires grad (x's gradient is
    zero at the assigned places, value gets the gradient there), as PyTorch's index_put_."""
    if is_tensor(value):
        check_device(x, value, "__setitem__")
    first, then, advanced = _split_index(x, index)
    try:
        if recorded(x, (value,)):
            value = as_value(x, value)
            update(x, "__setitem__", lambda old: IndexPut.apply(
                old, value, first=first, then=then, advanced=advanced), (value,))
            return
        device_call(x, _assign, x._data, first, then, value._data if is_tensor(value) else value)
    except ValueError as e:
        raise RuntimeError(f"__setitem__: cannot assign a value of shape "
                           f"{tuple(getattr(value, 'shape', ()))} to x[index] of a tensor of "
                           f"shape {tuple(x.shape)}: {e}") from None
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
        raise IndexError(f"getitem: too many indices for a tensor of shape {tuple(t.shape)}")
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
                                      f"{axis_} with size {n} (shape {tuple(t.shape)})")
            out.append(int(item))
            axis_, ints = axis_ + 1, True
        elif item.dtype.kind == "b":
            if item.shape != t.shape[axis_:axis_ + item.ndim]:
                raise IndexError(f"getitem: the shape of the mask {tuple(item.shape)} at index "
                                 f"{axis_} does not match the shape of the indexed tensor "
                                 f"{tuple(t.shape)}")
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
                              f"(shape {tuple(t.shape)})")


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
                             f"shape {tuple(value.shape)}")
        value = value.cast(x.dtype)
    elif is_scalar(value):
        value = x._like(device_call(x, lambda xp: xp.asarray(value).astype(x.dtype)))
    else:
        raise TypeError(f"masked_fill: value must be a number or a 0-d tensor, got "
                        f"{type(value).__name__}")
    try:
        broadcast_shapes(x.shape, mask.shape)
    except ValueError:
        raise ShapeError(f"masked_fill: mask of shape {tuple(mask.shape)} does not broadcast with "
                         f"the input of shape {tuple(x.shape)}") from None
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


def _index_places(x: Tensor, dim: Any, index: Any, source: Any, op: str) -> tuple:
    """The index of torch's index_add/index_copy as an index tuple for x (slices, then the
    integer array at dim), after checking index (0-d or 1-D integers in range) and source
    (x's shape with len(index) at dim, x's dtype and device)."""
    if x.ndim == 0:
        raise IndexError(f"{op}: x must have at least one dimension, got a 0-d tensor")
    d = check_axis(x, dim, op)
    if not is_tensor(index) or index.dtype.kind not in "iu" or index.ndim > 1:
        raise IndexError(f"{op}: index must be a 0-d or 1-D integer tensor, got "
                         f"{_describe(index)}")
    if not is_tensor(source):
        raise TypeError(f"{op}: source must be a tensor, got {type(source).__name__}")
    check_device(x, index, op)
    check_device(x, source, op)
    expected = x.shape[:d] + (index.numel(),) + x.shape[d + 1:]
    if source.shape != expected or source.dtype != x.dtype:
        raise RuntimeError(f"{op}: source must have shape {expected} (x's shape {tuple(x.shape)} "
                           f"with len(index) = {index.numel()} at dim {d}) and x's dtype "
                           f"{x.dtype.name}, got {_describe(source)}")
    check_range(x, index._data, x.shape[d], f"dimension {d}", op)
    return (slice(None),) * d + (index._data.reshape(-1),)


def index_add(x: Tensor, dim: int | None = None, index: Tensor | None = None,
              source: Tensor | None = None, *, alpha: Any = 1, axis: int | None = None
              ) -> Tensor:
    """x with alpha * source[..., k, ...] added at x[..., index[k], ...] along `dim`
    (repeated indices add up), as torch.index_add."""
    dim = dim_or_axis(dim, axis, "index_add")
    places = _index_places(x, dim, index, source, "index_add")
    added = source if alpha == 1 else source * alpha
    return x + IndexAdd.apply(added, index=places, advanced=True, shape=x.shape)


def index_copy(x: Tensor, dim: int | None = None, index: Tensor | None = None,
               source: Tensor | None = None, *, axis: int | None = None) -> Tensor:
    """x with source[..., k, ...] copied to x[..., index[k], ...] along `dim`, as
    torch.index_copy."""
    dim = dim_or_axis(dim, axis, "index_copy")
    places = _index_places(x, dim, index, source, "index_copy")
    return IndexPut.apply(x, source, first=places, then=None, advanced=True)


def masked_scatter(x: Tensor, mask: Tensor, source: Tensor) -> Tensor:
    """x with the elements of source, in order, at the places where mask (broadcast to x) is
    True, as torch.masked_scatter."""
    mask = _mask(x, mask, "masked_scatter")
    if x.ndim == 0:
        raise IndexError("masked_scatter: x must have at least one dimension, got a 0-d tensor")
    if not is_tensor(source) or source.dtype != x.dtype:
        raise RuntimeError(f"masked_scatter: source must be a tensor of x's dtype "
                           f"{x.dtype.name}, got {_describe(source)}")
    check_device(x, source, "masked_scatter")
    try:
        places = device_call(x, lambda xp, m: xp.broadcast_to(m, x.shape).nonzero(), mask._data)
    except ValueError:
        raise ShapeError(f"masked_scatter: mask of shape {tuple(mask.shape)} does not broadcast to "
                         f"the input's shape {tuple(x.shape)}") from None
    count = int(places[0].size)
    if count > source.numel():
        raise RuntimeError(f"masked_scatter: the mask has {count} True places but source (shape "
                           f"{tuple(source.shape)}) has only {source.numel()} elements")
    values = source.reshape(-1)[:count]
    return IndexPut.apply(x, values, first=tuple(places), then=None, advanced=True)


def fill_diagonal_(x: Tensor, fill_value: Any, wrap: bool = False) -> Tensor:
    """Fill the main diagonal (x[i, i, ...]) with fill_value, in place; for a tall matrix
    with `wrap` the diagonal starts again every `columns + 1` rows, as PyTorch's (and
    NumPy's fill_diagonal); returns x."""
    if x.ndim < 2 or (x.ndim > 2 and len(set(x.shape)) != 1):
        raise RuntimeError(f"fill_diagonal_: dimensions must be larger than 1 and all of equal "
                           f"length beyond 2-D, got shape {tuple(x.shape)}")
    side = x.shape[-1]
    step = sum(side ** k for k in range(x.ndim)) if x.ndim > 2 else side + 1
    end = x.numel() if wrap or x.ndim > 2 else min(x.numel(), side * side)
    places = (device_call(x, lambda xp: xp.arange(0, end, step)),)
    value = as_value(x, fill_value)
    return update(x, "fill_diagonal_", lambda t: IndexPut.apply(
        t.reshape(-1), value, first=places, then=None, advanced=True).reshape(x.shape), (value,))


def _describe(value: Any) -> str:
    if is_tensor(value):
        return f"a {value.dtype.name} tensor of shape {tuple(value.shape)}"
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
        raise ShapeError(f"masked_select: mask of shape {tuple(mask.shape)} does not broadcast "
                         f"with the input of shape {tuple(x.shape)}") from None
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
    "index_fill": index_fill, "index_add": index_add, "index_copy": index_copy,
    "masked_scatter": masked_scatter,
}
EXPORTS = Exports(methods={**_PUBLIC, "one_hot": one_hot, "fill_diagonal_": fill_diagonal_,
                           **{f"{name}_": in_place(fn, f"{name}_") for name, fn in (
                               ("masked_fill", masked_fill), ("index_fill", index_fill),
                               ("index_add", index_add), ("index_copy", index_copy),
                               ("masked_scatter", masked_scatter))}},
                  functions=_PUBLIC, functional={"one_hot": one_hot})
