"""Gathers and scatters along one axis: gather, scatter, scatter_add, scatter_reduce (sum,
prod, mean, amax, amin), index_select, take_along_dim. Index values on a device are
bounds-checked on the CPU backend only (reading them elsewhere would wait for the GPU)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tinygrad_nv.autograd import Function
from tinygrad_nv.autograd.function import device_call
from tinygrad_nv.dtype import is_floating
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
from tinygrad_nv.ops.index import Index, check_range, masked_fill
from tinygrad_nv.ops.inplace import in_place

if TYPE_CHECKING:
    from tinygrad_nv._tensor import Tensor


class Scatter(Function):
    """x with src[:index.shape] written at `index` along `axis` (reduce 'none'), or reduced
    into those places ('sum', 'prod', 'mean', 'amax', 'amin'), x's own values included or
    not. Gradients as PyTorch's: ties of amax/amin share evenly. 'none', 'sum' and 'mean'
    need only shapes in backward; the subclasses below keep what the others read."""

    saved_inputs: tuple[int, ...] | None = ()

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
            out = out / self.count if is_floating(x.dtype) else out // self.count
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
        xp, result = self.xp, self.output()._data
        places = along(xp, self.index, self.axis)
        x_wins = (x._data == result).astype(g.dtype)
        src_wins = (src._data[tuple(slice(0, n) for n in self.index.shape)] ==
                    result[places]).astype(g.dtype)
        count = x_wins.copy()
        xp.add.at(count, places, src_wins)
        shared = g / g._like(xp.maximum(count, 1))
        return shared * g._like(x_wins), gather(shared, self.axis, g._like(self.index)) * \
            g._like(src_wins)


class ScatterProduct(Scatter):
    saved_inputs = None  # backward reads x and src


class ScatterExtreme(Scatter):
    saved_inputs, save_output = None, True  # backward compares x and src with the result


def along(xp, index, axis: int) -> tuple:
    """Index arrays that pick `index` along `axis` and the element's own position along the
    other axes (numpy.take_along_axis for an index no larger than the input)."""
    return tuple(index if a == axis else xp.arange(n).reshape((-1,) + (1,) * (index.ndim - 1 - a))
                 for a, n in enumerate(index.shape))


def take_along(x: Tensor, indices, axis: int) -> Tensor:
    """x's values at `indices` (an integer array shaped like x except along `axis`), as
    numpy.take_along_axis; the gradient is added back at those positions."""
    return Index.apply(x, index=device_call(x, along, indices, axis), advanced=True)


def _identity(xp, reduce: str, dtype) -> Any:
    """The value a reduction starts from when the input's own values are left out."""
    if reduce in ("sum", "mean", "prod"):
        return int(reduce == "prod")
    largest = reduce == "amin"
    if is_floating(dtype):
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
    order = xp.argsort(flat)
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
    zeros = scatter_add(x._like(x.backend.xp.zeros(x.shape, dtype=x.dtype)), d, index,
                        src_zero.cast(x.dtype))
    single_zero = src_zero & (gather(zeros, d, index) == 1)
    without = scatter_reduce(x, d, index, masked_fill(src, single_zero, 1), "prod",
                             include_self=include_self)
    result = scatter_reduce(x, d, index, src, "prod", include_self=include_self)
    gs = single_zero.where(gather(g * without, d, index),
                           gather(g * result, d, index) / masked_fill(src, src_zero, 1))
    return gx, gs


# ---------------------------------------------------------------------- functions
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
                         f"the input, got index of shape {tuple(index.shape)} for shape "
                         f"{tuple(x.shape)}")
    shape = x.shape or (1,)
    for a, n in enumerate(index.shape):
        if (a != d and n > shape[a]) or (src is not None and n > (src.shape or (1,))[a]):
            also = "" if src is None else f" and no larger than src {tuple(src.shape)}"
            raise ShapeError(f"{op}: expected index {tuple(index.shape)} to be no larger than self "
                             f"{tuple(x.shape)} apart from dimension {d}{also}")
    check_range(x, index._data, shape[d], f"dimension {d}", op, negative=False)
    return d, index


def gather(x: Tensor, dim: int | None = None, index: Any = None, *, axis: int | None = None,
           sparse_grad: bool = False) -> Tensor:
    """out[i][j][k] = x[index[i][j][k]][j][k] for dim 0 (as torch.gather); out has index's
    shape. The gradient is added back at the gathered places."""
    d, index = _gather_args(x, dim_or_axis(dim, axis, "gather"), index, "gather")
    if x.ndim == 0:
        return x.reshape(1)[index._data.reshape(-1)].reshape(index.shape)
    return Index.apply(x, index=device_call(x, along, index._data, d), advanced=True)


def _src_tensor(x: Tensor, src: Any, index: Tensor, op: str) -> Tensor:
    if is_tensor(src):
        check_device(x, src, op)
        if src.dtype != x.dtype:
            raise RuntimeError(f"{op}: expected self.dtype to be equal to src.dtype, got "
                               f"{x.dtype.name} and {src.dtype.name}")
        if src.ndim != index.ndim:
            raise ShapeError(f"{op}: src of shape {tuple(src.shape)} must have as many dimensions "
                             f"as index {tuple(index.shape)}")
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
    kind = {"prod": ScatterProduct, "amax": ScatterExtreme, "amin": ScatterExtreme}
    return kind.get(reduce, Scatter).apply(x, src, index=index._data, axis=d, reduce=reduce,
                                           include_self=include_self)


def scatter(x: Tensor, dim: int | None = None, index: Any = None, src: Any = None,
            value: Any = None, *, axis: int | None = None, reduce: str | None = None
            ) -> Tensor:
    """A copy of x with src's values (or the number `value`) written at `index` along `dim`
    (as torch.scatter); reduce='add' or 'multiply' combines them with x's instead."""
    dim = dim_or_axis(dim, axis, "scatter")
    if (src is None) == (value is None):
        raise TypeError("scatter: give either src (a tensor or number) or value")
    reductions = {None: "none", "add": "sum", "multiply": "prod"}
    if reduce not in reductions:
        raise RuntimeError(f"scatter: reduce argument must be either add or multiply, got "
                           f"{reduce!r}")
    return _scatter(x, dim, index, value if src is None else src, reductions[reduce], True,
                    "scatter")


def scatter_add(x: Tensor, dim: int | None = None, index: Any = None, src: Tensor | None = None,
                *, axis: int | None = None) -> Tensor:
    """A copy of x with src's values added at `index` along `dim` (repeated places
    accumulate)."""
    return _scatter(x, dim_or_axis(dim, axis, "scatter_add"), index, src, "sum", True,
                    "scatter_add")


SCATTER_REDUCTIONS = ("sum", "prod", "mean", "amax", "amin")


def scatter_reduce(x: Tensor, dim: int | None = None, index: Any = None,
                   src: Tensor | None = None, reduce: str | None = None, *,
                   axis: int | None = None, include_self: bool = True) -> Tensor:
    """A copy of x with src's values reduced ('sum', 'prod', 'mean', 'amax', 'amin') into the
    places `index` names along `dim`, x's own values included unless include_self=False.

    >>> Tensor([0., 0.]).scatter_reduce(0, Tensor([0, 0, 1]), Tensor([1., 2., 3.]), "amax")
    """
    dim = dim_or_axis(dim, axis, "scatter_reduce")
    if reduce not in SCATTER_REDUCTIONS:
        raise RuntimeError(f"scatter_reduce: reduce must be one of {SCATTER_REDUCTIONS}, got "
                           f"{reduce!r}")
    return _scatter(x, dim, index, src, reduce, bool(include_self), "scatter_reduce")


def index_select(x: Tensor, dim: int | None = None, index: Any = None, *,
                 axis: int | None = None) -> Tensor:
    """The entries at `index` (a 1-D integer tensor) along `dim`."""
    d = check_axis(x, dim_or_axis(dim, axis, "index_select"), "index_select")
    index = _index_tensor(x, index, "index_select")
    if index.ndim > 1:
        raise IndexError(f"index_select: index is supposed to be a vector, got shape "
                         f"{tuple(index.shape)}")
    n = x.shape[d] if x.ndim else 1
    check_range(x, index._data, n, f"dimension {d}", "index_select", negative=False)
    if x.ndim == 0:
        if index.numel() != 1:
            raise IndexError(f"index_select: index to a 0-d tensor can have only 1 value, got "
                             f"{index.numel()}")
        return x.reshape(1)[index._data.reshape(-1)].reshape(())
    return Index.apply(x, index=(slice(None),) * d + (index._data.reshape(-1),), advanced=True)


def take_along_dim(x: Tensor, indices: Any, dim: int | None = None, *,
                   axis: int | None = None) -> Tensor:
    """x's values at `indices` along `dim` (or `axis`), x and indices broadcast along the
    other axes (as torch.take_along_dim); with dim None, of the flattened tensors."""
    dim = dim_or_axis(dim, axis, "take_along_dim", None)
    indices = _index_tensor(x, indices, "take_along_dim")
    if dim is None:
        return gather(x.reshape(-1), 0, indices.reshape(-1))
    d = check_axis(x, dim, "take_along_dim")
    if x.ndim == 0:
        raise IndexError(f"take_along_dim: dim {dim} is out of range for a 0-d tensor (no "
                         "dims); give dim=None")
    if x.ndim != indices.ndim:
        raise ShapeError(f"take_along_dim: input and indices should have the same number "
                         f"of dimensions, got shapes {tuple(x.shape)} and {tuple(indices.shape)}")
    try:
        shape = broadcast_shapes(x.shape[:d] + x.shape[d + 1:],
                                 indices.shape[:d] + indices.shape[d + 1:])
    except ValueError:
        raise ShapeError(f"take_along_dim: shapes {tuple(x.shape)} and {tuple(indices.shape)} do "
                         f"not broadcast outside dim {d}") from None
    x = x.expand(*shape[:d], x.shape[d], *shape[d:])
    indices = indices.expand(*shape[:d], indices.shape[d], *shape[d:])
    return gather(x, d, indices)


# ---------------------------------------------------------------------- public names
_PUBLIC = {  # Tensor methods and package functions (torch.<name>)
    "gather": gather, "scatter": scatter, "scatter_add": scatter_add,
    "scatter_reduce": scatter_reduce, "index_select": index_select,
    "take_along_dim": take_along_dim,
}
EXPORTS = Exports(methods={**_PUBLIC, "scatter_": in_place(scatter, "scatter_"),
                           "scatter_add_": in_place(scatter_add, "scatter_add_"),
                           "scatter_reduce_": in_place(scatter_reduce, "scatter_reduce_")},
                  functions=_PUBLIC)
