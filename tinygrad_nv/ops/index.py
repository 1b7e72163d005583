"""Indexing: `x[index]` with ints, slices (any step), None, Ellipsis, integer and bool tensors
or lists (a gather whose gradient scatters back) and `x[index] = value`; gather, scatter,
scatter_add, scatter_reduce, index_select, take_along_dim, masked_fill, masked_select,
nonzero, one_hot.

Index values that live on a device are bounds-checked on the CPU backend only: reading them
elsewhere would wait for the GPU (on emu NumPy still refuses an out-of-range index)."""

from __future__ import annotations

import operator
from typing import TYPE_CHECKING, Any

from tinygrad_nv.autograd import Function
from tinygrad_nv.ops._checks import (
    ShapeError,
    broadcast_shapes,
    check_device,
    is_int,
    is_scalar,
    is_tensor,
)
from tinygrad_nv.ops._checks import axis as check_axis

if TYPE_CHECKING:
    from tinygrad_nv.tensor import Tensor


class IndexOutOfRange(IndexError, RuntimeError):
    """An index outside its axis (PyTorch raises IndexError for x[i], RuntimeError for
    gather and friends: this is both)."""


class Index(Function):
    """x[index]: basic indexing (a view) or advanced integer/bool indexing (a gather)."""

    saved_inputs = ()

    def forward(self, x, index: tuple, advanced: bool):
        self.index, self.advanced = index, advanced
        return x[index]

    def backward(self, g):
        return IndexAdd.apply(g, index=self.index, advanced=self.advanced,
                              shape=self.parents[0].shape)


class IndexAdd(Function):
    """zeros(shape) with g added at `index` (repeated indices accumulate): Index's adjoint."""

    saved_inputs = ()

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


class Scatter(Function):
    """x with src[:index.shape] written at `index` along `axis` (reduce 'none'), or reduced
    into those places ('sum', 'prod', 'mean', 'amax', 'amin'), x's own values included or
    not. Gradients as PyTorch's: ties of amax/amin share evenly."""

    save_output = True

    def forward(self, x, src, index, axis: int, reduce: str, include_self: bool):
        self.index, self.axis, self.reduce, self.include_self = index, axis, reduce, include_self
        xp, out = self.xp, x.copy()
        places = along(xp, index, axis)
        values = src[tuple(slice(0, n) for n in index.shape)]
        if reduce == "none":
            out[places] = values
            return out
        if not include_self:
            out[places] = _identity(xp, reduce, x.dtype)
        if reduce == "prod":
            _multiply_at(xp, out, places, values)
        else:
            ufunc = {"amax": xp.maximum, "amin": xp.minimum}.get(reduce, xp.add)
            ufunc.at(out, places, values)
        if reduce == "mean":
            count = xp.full(x.shape, int(include_self), dtype=index.dtype)
            xp.add.at(count, places, 1)
            self.count = xp.maximum(count, 1)
            out = out / self.count if x.dtype.kind == "f" else out // self.count
        return out.astype(x.dtype, copy=False)

    def backward(self, g):
        x, src = self.parents
        index, d = g._like(self.index), self.axis
        if self.reduce in ("none", "sum"):
            gx = g if self.reduce == "sum" else scatter(g, d, index, 0.0)
            gs = gather(g, d, index)
        elif self.reduce == "mean":
            gx = g / g._like(self.count.astype(g.dtype))
            gs = gather(gx, d, index)
        elif self.reduce == "prod":
            gx, gs = _prod_grads(g, x, src, index, d, self.include_self)
        else:
            gx, gs = self._extreme_grads(g, x, src)
        if not self.include_self:
            gx = scatter(gx, d, index, 0.0)
        if gs.shape != src.shape:  # src elements beyond index.shape get no gradient
            gs = gs.pad(tuple((0, s - n) for n, s in zip(gs.shape, src.shape)))
        return gx, gs

    def _extreme_grads(self, g, x, src):
        """amax/amin: the gradient shared evenly between the values equal to the result."""
        xp, result = self.xp, self.output().data
        places = along(xp, self.index, self.axis)
        x_wins = (x.data == result).astype(g.dtype)
        src_wins = (src.data[tuple(slice(0, n) for n in self.index.shape)] ==
                    result[places]).astype(g.dtype)
        count = x_wins.copy()
        xp.add.at(count, places, src_wins)
        shared = g / g._like(xp.maximum(count, 1))
        return shared * g._like(x_wins), gather(shared, self.axis, g._like(self.index)) * \
            g._like(src_wins)


def along(xp, index, axis: int) -> tuple:
    """Index arrays that pick `index` along `axis` and the element's own position along the
    other axes (numpy.take_along_axis for an index no larger than the input)."""
    return tuple(index if a == axis else xp.arange(n).reshape((-1,) + (1,) * (index.ndim - 1 - a))
                 for a, n in enumerate(index.shape))


def _identity(xp, reduce: str, dtype) -> Any:
    """The value a reduction starts from when the input's own values are left out."""
    if reduce in ("sum", "mean", "prod"):
        return int(reduce == "prod")
    largest = reduce == "amin"
    if dtype.kind == "f":
        return float("inf") if largest else float("-inf")
    if dtype.kind == "b":
        return largest
    info = xp.iinfo(dtype)
    return info.max if largest else info.min


def _multiply_at(xp, out, places: tuple, values) -> None:
    """out[places] *= values with repeated places multiplying in turn (multiply.at, which
    CuPy lacks): one round per repetition, places unique within a round."""
    flat = xp.ravel_multi_index(tuple(xp.broadcast_to(p, values.shape) for p in places),
                                out.shape).ravel()
    order = xp.argsort(flat, kind="stable")
    flat, values = flat[order], values.ravel()[order]
    rank = xp.arange(flat.size) - xp.searchsorted(flat, flat, side="left")
    target = out.reshape(-1)  # a view of the fresh contiguous copy
    for r in range(int(rank.max()) + 1 if flat.size else 0):
        chosen = rank == r
        target[flat[chosen]] *= values[chosen]


def _prod_grads(g, x, src, index, d: int, include_self: bool):
    """PyTorch's gradient of a scatter product, exact where inputs are zero."""
    masked_x = masked_fill(x, x == 0, 1)
    gx = g * scatter_reduce(masked_x, d, index, src, "prod", include_self=include_self) / masked_x
    src = src[tuple(slice(0, n) for n in index.shape)]
    src_zero = src == 0
    zeros = scatter_add(x.detach() * 0, d, index, src_zero.cast(x.dtype))
    single_zero = src_zero & (gather(zeros, d, index) == 1)
    without = scatter_reduce(x, d, index, masked_fill(src, single_zero, 1), "prod",
                             include_self=include_self)
    result = scatter_reduce(x, d, index, src, "prod", include_self=include_self)
    gs = single_zero.where(gather(g * without, d, index),
                           gather(g * result, d, index) / masked_fill(src, src_zero, 1))
    return gx, gs


# ---------------------------------------------------------------------- x[index]
def getitem(x: Tensor, index: Any) -> Tensor:
    """x[index] with PyTorch's rules: basic indexing, or a gather with integer / bool tensors
    and lists (integers index first, so `x[1, :, idx]` has shape (6, len) for x of shape
    (5, 6, 7), as in PyTorch)."""
    first, then, advanced = _split_index(x, index)
    out = Index.apply(x, index=first, advanced=advanced and then is None)
    return out if then is None else Index.apply(out, index=then, advanced=True)


def setitem(x: Tensor, index: Any, value: Any) -> None:
    """x[index] = value, in place (not on tensors that require grad), the same index forms as
    x[index]."""
    if x.requires_grad:
        raise RuntimeError("__setitem__: in-place assignment into a tensor that requires "
                           "grad is not supported; build a new tensor (e.g. with where)")
    if is_tensor(value):
        check_device(x, value, "__setitem__")
        value = value.data
    first, then, _ = _split_index(x, index)
    try:
        if then is None:
            x.data[first] = value
        else:
            x.data[first][then] = value  # the first step is basic: a view into x
    except ValueError as e:
        raise RuntimeError(f"__setitem__: cannot assign a value of shape "
                           f"{tuple(getattr(value, 'shape', ()))} to x[index] of a tensor of "
                           f"shape {x.shape}: {e}") from None


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
            out.extend(item.nonzero())
            axis_, arrays = axis_ + item.ndim, True
        else:
            _check_range(t, item, t.shape[axis_], f"dimension {axis_}", "getitem")
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
            isinstance(i, (list, tuple, slice)) or i is None or i is Ellipsis
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
        array = item.data if item.device == t.device else \
            t.backend.from_host(item.backend.to_host(item.data))
        if array.dtype.kind == "u" and array.dtype.itemsize == 1:  # uint8: a mask (PyTorch)
            array = array.astype(bool)
    elif isinstance(item, (list, tuple)) or hasattr(item, "dtype"):
        try:
            array = t.backend.xp.asarray(item)
        except (ValueError, TypeError):
            raise IndexError(f"getitem: cannot use {item!r} as an index") from None
        if array.size == 0 and array.dtype.kind == "f":  # x[[]]: an empty integer index
            array = array.astype("int64")
    else:
        raise IndexError(f"getitem: unsupported index {item!r} (valid: int, slice, None, "
                         "Ellipsis, integer or bool Tensor/list)")
    if array.dtype.kind not in "iub":
        raise IndexError(f"getitem: tensors used as indices must be integer or bool, got "
                         f"{array.dtype.name}")
    return array


def _check_range(t: Tensor, index, n: int, where: str, op: str, negative: bool = True) -> None:
    """Raise IndexOutOfRange for an index array with values outside [-n, n) ([0, n) without
    `negative`); done where the values are on the host (the CPU backend)."""
    if t.device != "cpu" or index.size == 0:
        return
    low, high = int(index.min()), int(index.max())
    if high >= n or low < (-n if negative else 0):
        bad = high if high >= n else low
        raise IndexOutOfRange(f"{op}: index {bad} is out of bounds for {where} with size {n} "
                              f"(shape {t.shape})")


# ---------------------------------------------------------------------- gather and scatter
def _index_tensor(x: Tensor, index: Any, op: str) -> Tensor:
    """`index` as an integer Tensor on x's device."""
    if not is_tensor(index):
        if not isinstance(index, (list, tuple)) and not is_int(index):
            raise TypeError(f"{op}: index must be an integer tensor, got "
                            f"{type(index).__name__}")
        index = x._like(x.backend.xp.asarray(index, dtype="int64"))
    check_device(x, index, op)
    if index.dtype.kind not in "iu":
        raise RuntimeError(f"{op}: expected an integer index tensor, got {index.dtype.name}")
    return index


def _gather_args(x: Tensor, dim: Any, index: Any, op: str, src: Tensor | None = None):
    """The axis and index of gather/scatter, with PyTorch's shape rules checked."""
    d = check_axis(x, dim, op)
    index = _index_tensor(x, index, op)
    if index.ndim != x.ndim and not (x.ndim == 0 and index.ndim <= 1):
        raise ShapeError(f"{op}: index tensor must have the same number of dimensions as "
                           f"the input, got index of shape {index.shape} for shape {x.shape}")
    shape = x.shape or (1,)
    for a, n in enumerate(index.shape):
        if (a != d and n > shape[a]) or (src is not None and n > (src.shape or (1,))[a]):
            raise ShapeError(
                f"{op}: expected index {index.shape} to be no larger than self {x.shape} "
                f"apart from dimension {d}" + ("" if src is None else
                                               f" and no larger than src {src.shape}"))
    _check_range(x, index.data, shape[d], f"dimension {d}", op, negative=False)
    return d, index


def gather(x: Tensor, dim: int, index: Any, *, sparse_grad: bool = False) -> Tensor:
    """out[i][j][k] = x[index[i][j][k]][j][k] for dim 0 (as torch.gather); out has index's
    shape. The gradient is added back at the gathered places."""
    d, index = _gather_args(x, dim, index, "gather")
    if x.ndim == 0:
        return x.reshape(1)[index.data.reshape(-1)].reshape(index.shape)
    return Index.apply(x, index=along(x.backend.xp, index.data, d), advanced=True)


def _src_tensor(x: Tensor, src: Any, index: Tensor, op: str) -> Tensor:
    if is_tensor(src):
        check_device(x, src, op)
        if src.dtype != x.dtype:
            raise RuntimeError(f"{op}: expected self.dtype to be equal to src.dtype, got "
                               f"{x.dtype.name} and {src.dtype.name}")
        if src.ndim != index.ndim:
            raise ShapeError(f"{op}: src of shape {src.shape} must have as many dimensions "
                               f"as index {index.shape}")
        return src
    if not is_scalar(src):
        raise TypeError(f"{op}: src must be a tensor or a number, got {type(src).__name__}")
    return x._like(x.backend.xp.full(index.shape, src, dtype=x.dtype))


def _scatter(x: Tensor, dim: int, index: Any, src: Any, reduce: str, include_self: bool,
             op: str) -> Tensor:
    index = _index_tensor(x, index, op)
    src = _src_tensor(x, src, index, op)
    d, index = _gather_args(x, dim, index, op, src)
    if x.ndim == 0:
        one = _scatter(x.reshape(1), 0, index.reshape(-1), src.reshape(-1), reduce,
                       include_self, op)
        return one.reshape(())
    return Scatter.apply(x, src, index=index.data, axis=d, reduce=reduce,
                         include_self=include_self)


def scatter(x: Tensor, dim: int, index: Any, src: Any = None, value: Any = None, *,
            reduce: str | None = None) -> Tensor:
    """A copy of x with src's values (or the number `value`) written at `index` along `dim`
    (as torch.scatter); reduce='add' or 'multiply' combines them with x's instead."""
    if (src is None) == (value is None):
        raise TypeError("scatter: give either src (a tensor or number) or value")
    reductions = {None: "none", "add": "sum", "multiply": "prod"}
    if reduce not in reductions:
        raise RuntimeError(f"scatter: reduce argument must be either add or multiply, got "
                           f"{reduce!r}")
    return _scatter(x, dim, index, value if src is None else src, reductions[reduce], True,
                    "scatter")


def scatter_add(x: Tensor, dim: int, index: Any, src: Tensor) -> Tensor:
    """A copy of x with src's values added at `index` along `dim` (repeated places
    accumulate)."""
    return _scatter(x, dim, index, src, "sum", True, "scatter_add")


SCATTER_REDUCTIONS = ("sum", "prod", "mean", "amax", "amin")


def scatter_reduce(x: Tensor, dim: int, index: Any, src: Tensor, reduce: str, *,
                   include_self: bool = True) -> Tensor:
    """A copy of x with src's values reduced ('sum', 'prod', 'mean', 'amax', 'amin') into the
    places `index` names along `dim`, x's own values included unless include_self=False.

    >>> Tensor([0., 0.]).scatter_reduce(0, Tensor([0, 0, 1]), Tensor([1., 2., 3.]), "amax")
    """
    if reduce not in SCATTER_REDUCTIONS:
        raise RuntimeError(f"scatter_reduce: reduce must be one of {SCATTER_REDUCTIONS}, got "
                           f"{reduce!r}")
    return _scatter(x, dim, index, src, reduce, bool(include_self), "scatter_reduce")


def index_select(x: Tensor, dim: int, index: Any) -> Tensor:
    """The entries at `index` (a 1-D integer tensor) along `dim`."""
    d = check_axis(x, dim, "index_select")
    index = _index_tensor(x, index, "index_select")
    if index.ndim > 1:
        raise IndexError(f"index_select: index is supposed to be a vector, got shape "
                         f"{index.shape}")
    n = x.shape[d] if x.ndim else 1
    _check_range(x, index.data, n, f"dimension {d}", "index_select", negative=False)
    if x.ndim == 0:
        if index.numel() != 1:
            raise IndexError(f"index_select: index to a 0-d tensor can have only 1 value, got "
                             f"{index.numel()}")
        return x.reshape(1)[index.data.reshape(-1)].reshape(())
    return Index.apply(x, index=(slice(None),) * d + (index.data.reshape(-1),), advanced=True)


def take_along_dim(x: Tensor, indices: Any, dim: int | None = None) -> Tensor:
    """x's values at `indices` along `dim`, x and indices broadcast along the other axes
    (as torch.take_along_dim); with dim None, of the flattened tensors."""
    indices = _index_tensor(x, indices, "take_along_dim")
    if dim is None:
        return gather(x.reshape(-1), 0, indices.reshape(-1))
    d = check_axis(x, dim, "take_along_dim")
    if x.ndim != indices.ndim:
        raise ShapeError(f"take_along_dim: input and indices should have the same number "
                           f"of dimensions, got shapes {x.shape} and {indices.shape}")
    try:
        shape = broadcast_shapes(x.shape[:d] + x.shape[d + 1:],
                           indices.shape[:d] + indices.shape[d + 1:])
    except ValueError:
        raise ShapeError(f"take_along_dim: shapes {x.shape} and {indices.shape} do not "
                           f"broadcast outside dim {d}") from None
    x = x.expand(*shape[:d], x.shape[d], *shape[d:])
    indices = indices.expand(*shape[:d], indices.shape[d], *shape[d:])
    return gather(x, d, indices)


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
        value = x._like(x.backend.xp.asarray(value).astype(x.dtype))
    else:
        raise TypeError(f"masked_fill: value must be a number or a 0-d tensor, got "
                        f"{type(value).__name__}")
    try:
        broadcast_shapes(x.shape, mask.shape)
    except ValueError:
        raise ShapeError(f"masked_fill: mask of shape {mask.shape} does not broadcast with "
                           f"the input of shape {x.shape}") from None
    return mask.where(value, x)


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
    places, found = _first_true(x.backend.xp, mask.data, shape, size, "masked_select")
    picked = Index.apply(flat, index=(x.backend.xp.minimum(places, max(flat.numel() - 1, 0)),),
                         advanced=True) if flat.numel() else flat._like(
        x.backend.xp.zeros(size, dtype=x.dtype))
    return masked_fill(picked, x._like(~found), fill_value)


def _first_true(xp, mask, shape: tuple, size: int, op: str):
    """Flat positions of the first `size` True values of mask (broadcast to shape), and
    which of them exist, computed on the device (a running count and a sorted search)."""
    if not is_int(size) or size < 0:
        raise ValueError(f"{op}: size must be a non-negative int, got {size!r}")
    count = xp.cumsum(xp.broadcast_to(mask, shape).reshape(-1))
    places = xp.searchsorted(count, xp.arange(1, size + 1), side="left")
    return places, places < count.size


def nonzero(x: Tensor, size: int | None = None, fill_value: Any = 0, *,
            as_tuple: bool = False) -> Tensor | tuple[Tensor, ...]:
    """The indices of the non-zero elements: an int64 tensor of shape (count, ndim), or with
    as_tuple one 1-D tensor per axis. The count is read from the device, unless `size` is
    given: then exactly `size` rows (cut, or padded with `fill_value`)."""
    xp = x.backend.xp
    if size is not None:
        places, found = _first_true(xp, x.data != 0, x.shape, size, "nonzero")
        coords = xp.stack(xp.unravel_index(xp.minimum(places, max(x.numel() - 1, 0)), x.shape),
                          axis=-1) if x.numel() and x.ndim else \
            xp.zeros((size, x.ndim), dtype="int64")
        coords = xp.where(found[:, None], coords.reshape(size, x.ndim), int(fill_value))
        out = x._like(coords.astype("int64", copy=False))
        return tuple(out[:, a] for a in range(x.ndim)) if as_tuple else out
    if as_tuple:
        coords = xp.nonzero(x.data.reshape(-1) if x.ndim == 0 else x.data)
        return tuple(x._like(c.astype("int64", copy=False)) for c in coords)
    return x._like(xp.argwhere(x.data).astype("int64", copy=False))


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
    xp, checked = x.backend.xp, x.device == "cpu" or num_classes == -1
    if num_classes == -1 and x.numel() == 0:
        raise RuntimeError("one_hot: can not infer the total number of classes from an empty "
                           "tensor")
    if checked and x.numel():
        low, high = (int(v) for v in x.backend.to_host(xp.stack([x.data.min(), x.data.max()])))
        num_classes = high + 1 if num_classes == -1 else num_classes
        if low < 0:
            raise RuntimeError(f"one_hot: class values must be non-negative, got {low}")
        if high >= num_classes:
            raise RuntimeError(f"one_hot: class values must be smaller than num_classes "
                               f"({num_classes}), got {high}")
    return x._like((x.data[..., None] == xp.arange(num_classes)).astype("int64"))
