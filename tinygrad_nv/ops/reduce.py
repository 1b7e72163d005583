"""Reductions: sum, mean, var, std, var_mean, std_mean, max/amax, min/amin, logsumexp, prod,
norm, count_nonzero, any, all, argmax, argmin. The Functions take a tuple of (non-negative,
sorted) axes; the functions accept `axis` or `dim`. The functions shadow the builtins
sum/max/min/any/all here: use `builtins.` for those."""

from __future__ import annotations

import builtins
import collections
import functools
import inspect
import math
import numbers
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tinygrad_nv.autograd import Function, is_grad_enabled
from tinygrad_nv.autograd.autocast_state import autocast_op
from tinygrad_nv.autograd.function import constant
from tinygrad_nv.dtype import accumulation_dtype, dtypes, to_dtype
from tinygrad_nv.ops import Exports, return_type
from tinygrad_nv.ops._checks import axes as check_axes
from tinygrad_nv.ops._checks import axis as check_axis
from tinygrad_nv.ops._checks import is_tensor
from tinygrad_nv.ops.gather_scatter import take_along
from tinygrad_nv.ops.movement import Expand, Reshape
from tinygrad_nv.ops.unary import floating

if TYPE_CHECKING:
    from tinygrad_nv._tensor import Tensor


def kept_shape(shape: tuple, axes: tuple) -> tuple:
    """`shape` with the reduced axes set to 1: the keepdim=True shape."""
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def reduced_shape(shape: tuple, axes: tuple) -> tuple:
    """`shape` without the reduced axes: the keepdim=False shape."""
    return tuple(n for i, n in enumerate(shape) if i not in axes)


class Sum(Function):
    saved_inputs = ()  # backward reads shapes only

    def forward(self, x, axes: tuple, keepdim: bool):
        self.axes = axes
        # int32 stays int32; float16 adds up in float32, then rounds once
        return x.sum(axis=axes, keepdims=keepdim, dtype=accumulation_dtype(x.dtype)).astype(
            x.dtype, copy=False)

    def backward(self, g):
        shape = self.parents[0]._data.shape  # (the array's tuple: no Size on the hot path)
        kept = g.ndim and g.ndim != len(shape)  # keepdim=False dropped axes: put them back
        if not is_grad_enabled():  # backward records no graph: one raw broadcast (fast path)
            data = g._data.reshape(kept_shape(shape, self.axes)) if kept else g._data
            return g._like(self.xp.broadcast_to(data, shape))
        if kept:
            g = Reshape.apply(g, shape=kept_shape(shape, self.axes))
        return Expand.apply(g, shape=shape)


class Max(Function):
    """amax (or amin with largest=False): the gradient is split evenly between tied extremes.
    Integers compare exactly (no negation tricks at the dtype's limits)."""

    save_output = True  # backward finds the extremes by comparing x with the output

    def forward(self, x, axes: tuple, keepdim: bool, largest: bool = True):
        self.axes = axes
        out = (x.max if largest else x.min)(axis=axes, keepdims=True)
        self.kept = out.shape
        return out if keepdim else out.reshape(reduced_shape(x.shape, axes))

    def backward(self, g):
        x = self.parents[0]
        hits = x._data == self.output()._data.reshape(self.kept)
        share = hits / hits.sum(axis=self.axes, keepdims=True)
        return g.reshape(self.kept).expand(x.shape) * g._like(share.astype(g.dtype))


class StdRoot(Function):
    """sqrt of a variance, with PyTorch's std backward: g / (2 std), masked to 0 where std is
    0, so a constant input gets gradient 0, not NaN."""

    saved_inputs = ()  # backward reads the output, not the input
    save_output = True

    def forward(self, variance):
        return self.xp.sqrt(variance)

    def backward(self, g):
        out = self.output()
        zero = out == 0
        return zero.where(0.0, g / (2 * zero.where(1.0, out)))


class Norm(Function):
    """The vector p-norm over `axes` for p = 0, inf, -inf or any other number. As PyTorch,
    the gradient is 0 where the norm (or, for p < 1, the element) is 0, and p = 0 has none."""

    save_output = True

    def forward(self, x, p: float, axes: tuple, keepdim: bool):
        self.p, self.axes = p, axes
        size = self.xp.abs(x)
        if p == 0:
            out = (x != 0).sum(axis=axes, keepdims=True).astype(x.dtype)
        elif p in (math.inf, -math.inf):
            out = (size.max if p > 0 else size.min)(axis=axes, keepdims=True)
        elif p == 1:
            out = size.sum(axis=axes, keepdims=True)
        elif p == 2:
            out = self.xp.sqrt((size * size).sum(axis=axes, keepdims=True))
        else:
            out = (size**p).sum(axis=axes, keepdims=True) ** (1 / p)
        self.kept = out.shape
        return out if keepdim else out.reshape(reduced_shape(x.shape, axes))

    def backward(self, g):
        x, p = self.parents[0], self.p
        if p == 0:
            return None
        out, g = self.output().reshape(self.kept), g.reshape(self.kept)
        if p in (math.inf, -math.inf):  # split between the elements of largest/smallest |x|
            hits = self.xp.abs(x._data) == out._data
            share = hits / hits.sum(axis=self.axes, keepdims=True)
            return g * x.sign() * g._like(share.astype(g.dtype))
        # d|x|_p / dx = sign(x) |x|^(p-1) |x|_p^(1-p), written so that zeros give 0, not NaN
        empty = out == 0
        scale = empty.where(0.0, g * empty.where(1.0, out) ** (1 - p))
        if p == 1:
            return x.sign() * scale
        if p >= 2:  # x itself for p = 2: the second derivative at x = 0 stays right
            return (x if p == 2 else x * x.abs() ** (p - 2)) * scale
        nonzero = x != 0
        return nonzero.where(x.sign() * nonzero.where(x.abs(), 1.0) ** (p - 1), 0.0) * scale


# ---------------------------------------------------------------------- functions
def in_accumulation_dtype(fn: Callable) -> Callable:
    """Decorator: fn(x, ...) computes with x cast to its accumulation dtype (float32 for
    float16, as PyTorch's reductions, norms and losses) and gives its results (a Tensor or a
    tuple of them) back in x's dtype; other dtypes (and non-tensors, for fn to refuse) go
    straight through, with no cast."""
    first = next(iter(inspect.signature(fn).parameters))  # x may come by keyword (input=)

    @functools.wraps(fn)
    def widened(*args: Any, **kwargs: Any) -> Any:
        x = args[0] if args else kwargs.get(first)
        if not (is_tensor(x) and accumulation_dtype(x.dtype) != x.dtype):
            return fn(*args, **kwargs)
        wide = x.cast(accumulation_dtype(x.dtype))
        if args:
            out = fn(wide, *args[1:], **kwargs)
        else:
            out = fn(**{**kwargs, first: wide})
        return tuple(t.cast(x.dtype) for t in out) if isinstance(out, tuple) \
            else out.cast(x.dtype)
    return widened


def accumulating(x: Tensor, dtype: Any = None) -> Tensor:
    """x as sum/prod/cumsum/cumprod compute with it, as PyTorch: cast to `dtype` when given,
    integers and bools to int64, floats as they are."""
    if dtype is not None:
        return x.cast(dtype)
    return x.cast(dtypes.int64) if x.dtype.kind in "biu" else x


def _float_dtype(x: Tensor, dtype: Any, op: str) -> Tensor:
    """x cast to `dtype` (which must be floating), or promoted to float32 when not given."""
    if dtype is None:
        return floating(x)
    dt = to_dtype(dtype)
    if not dtypes.is_float(dt):
        raise TypeError(f"{op}: dtype must be a floating point dtype, got {dt.name}")
    return x.cast(dt)


def _reduction_axes(x: Tensor, axis: Any, dim: Any, op: str) -> tuple[int, ...]:
    """The sorted axes to reduce; an empty tuple or list reduces all of them, as PyTorch's
    dim=() (NumPy's axis=() reduces none)."""
    return check_axes(x, axis, dim, op) or tuple(range(x.ndim))


@autocast_op
def sum(x: Tensor, axis: Any = None, keepdim: bool = False, dim: Any = None,  # noqa: A001
        dtype: Any = None) -> Tensor:
    """The sum over `axis` (None: all; an int or a tuple, negative allowed) or `dim`.
    Integers and bools sum in int64; `dtype` casts the input first, as torch.sum.

    >>> Tensor([[1.0, 2.0], [3.0, 4.0]]).sum(dim=0).tolist()   # [4.0, 6.0]
    """
    axes = _reduction_axes(x, axis, dim, "sum")
    return Sum.apply(accumulating(x, dtype), axes=axes, keepdim=keepdim)


def mean(x: Tensor, axis: Any = None, keepdim: bool = False, dim: Any = None,
         dtype: Any = None) -> Tensor:
    """The mean over `axis` or `dim` (integers give float32; `dtype` casts first). An empty
    reduction gives NaN."""
    x = _float_dtype(x, dtype, "mean")
    return _mean(x, _reduction_axes(x, axis, dim, "mean"), keepdim)


@in_accumulation_dtype
def _mean(x: Tensor, axes: tuple, keepdim: bool) -> Tensor:
    return sum(x, axes, keepdim=keepdim) / math.prod(x.shape[a] for a in axes)


def _correction(correction: Any, unbiased: bool | None, op: str) -> float:
    if unbiased is not None:  # the older spelling: unbiased=False is correction=0
        return 1 if unbiased else 0
    if isinstance(correction, bool) or not isinstance(correction, numbers.Real):
        raise TypeError(f"{op}: correction must be a number, got {type(correction).__name__}")
    return correction


def _spread_and_mean(x: Tensor, axis: Any, keepdim: bool, correction: Any, dim: Any,
                     unbiased: bool | None, op: str) -> tuple[Tensor, Tensor]:
    """(variance, mean), or (standard deviation, mean) for std and std_mean."""
    x = floating(x)
    axes = _reduction_axes(x, axis, dim, op)
    return _moments(x, axes, keepdim, _correction(correction, unbiased, op),
                    root=op.startswith("std"))


@in_accumulation_dtype
def _moments(x: Tensor, axes: tuple, keepdim: bool, correction: float, root: bool
             ) -> tuple[Tensor, Tensor]:
    count = math.prod(x.shape[a] for a in axes)
    center = mean(x, axes, keepdim=True)
    centered = x - center
    divisor = builtins.max(count - correction, 0)  # 0: inf or NaN, as PyTorch
    spread = sum(centered * centered, axes, keepdim=keepdim) / divisor
    spread = StdRoot.apply(spread) if root else spread
    return spread, center if keepdim else center.reshape(reduced_shape(x.shape, axes))


def var(x: Tensor, axis: Any = None, keepdim: bool = False, correction: Any = 1,
        dim: Any = None, unbiased: bool | None = None) -> Tensor:
    """Variance, unbiased by default: divides by n - correction (`unbiased=False` is
    correction=0)."""
    return _spread_and_mean(x, axis, keepdim, correction, dim, unbiased, "var")[0]


def std(x: Tensor, axis: Any = None, keepdim: bool = False, correction: Any = 1,
        dim: Any = None, unbiased: bool | None = None) -> Tensor:
    """The standard deviation, unbiased by default (correction=1)."""
    return _spread_and_mean(x, axis, keepdim, correction, dim, unbiased, "std")[0]


def var_mean(x: Tensor, axis: Any = None, keepdim: bool = False, correction: Any = 1,
             dim: Any = None, unbiased: bool | None = None) -> tuple[Tensor, Tensor]:
    """(variance, mean) over `axis` or `dim`, as torch.var_mean.

    >>> v, m = Tensor([1.0, 2.0, 3.0]).var_mean()    # 1.0, 2.0
    """
    return _spread_and_mean(x, axis, keepdim, correction, dim, unbiased, "var_mean")


def std_mean(x: Tensor, axis: Any = None, keepdim: bool = False, correction: Any = 1,
             dim: Any = None, unbiased: bool | None = None) -> tuple[Tensor, Tensor]:
    """(standard deviation, mean) over `axis` or `dim`, as torch.std_mean."""
    return _spread_and_mean(x, axis, keepdim, correction, dim, unbiased, "std_mean")


def _extreme(x: Tensor, axis: Any, keepdim: bool, dim: Any, op: str, largest: bool) -> Tensor:
    axes = _reduction_axes(x, axis, dim, op)
    _check_nonempty(x, axis if dim is None else dim, axes, op)
    return Max.apply(x, axes=axes, keepdim=keepdim, largest=largest)


def _check_nonempty(x: Tensor, chosen: Any, axes: tuple, op: str) -> None:
    """Reductions without an identity (max, min, argmax, ...) refuse empty axes, as PyTorch."""
    if chosen is None and x.numel() == 0:
        raise RuntimeError(f"{op}: cannot reduce an empty tensor of shape {tuple(x.shape)} over "
                           f"all axes (the operation has no identity); give the axis to reduce")
    for a in axes:
        if x.shape[a] == 0:
            raise IndexError(f"{op}: cannot reduce over axis {a} of size 0 in a tensor of "
                             f"shape {tuple(x.shape)} (the operation has no identity)")


def max(x: Tensor, axis: Any = None, keepdim: bool = False, dim: Any = None) -> Any:  # noqa: A001
    """As torch.max: the largest element (ties share the gradient evenly; NaN propagates);
    over `dim` (or `axis`) the named tuple (values, indices), the gradient going to the
    selected (first) index; `max(x, other)` is `maximum(x, other)`.

    >>> values, indices = Tensor([[1.0, 3.0], [4.0, 2.0]]).max(dim=1)   # [3., 4.], [1, 0]
    """
    if is_tensor(axis):
        return x.maximum(axis)
    return _max_or_min(x, axis if dim is None else dim, keepdim, "max")


def min(x: Tensor, axis: Any = None, keepdim: bool = False, dim: Any = None) -> Any:  # noqa: A001
    """As torch.min: the smallest element, or (values, indices) over `dim` (or `axis`);
    `min(x, other)` is `minimum(x, other)`."""
    if is_tensor(axis):
        return x.minimum(axis)
    return _max_or_min(x, axis if dim is None else dim, keepdim, "min")


def _max_or_min(x: Tensor, chosen: Any, keepdim: bool, op: str) -> Any:
    if chosen is None:
        return _extreme(x, None, keepdim, None, op, largest=op == "max")
    if isinstance(chosen, (tuple, list)):
        raise TypeError(f"{op}: dim must be one int, got {chosen!r}; a{op}(dim=...) reduces "
                        "several axes")
    d = check_axis(x, chosen, op)
    if x.ndim == 0:  # one element along axis 0, as PyTorch
        values, indices = _max_or_min(x.reshape(1), 0, False, op)
        return return_type(op)(values.reshape(()), indices.reshape(()))
    _check_nonempty(x, chosen, (d,), op)
    indices = constant(lambda xp, a: getattr(xp, f"arg{op}")(a, axis=d, keepdims=True).astype(
        dtypes.int64, copy=False), x)
    values = take_along(x, indices._data, d)
    if not keepdim:
        values, indices = values.squeeze(d), indices.squeeze(d)
    return return_type(op)(values, indices)


def amax(x: Tensor, axis: Any = None, keepdim: bool = False, dim: Any = None) -> Tensor:
    """Largest values over `axis` or `dim` (None: all), as torch.amax."""
    return _extreme(x, axis, keepdim, dim, "amax", largest=True)


def amin(x: Tensor, axis: Any = None, keepdim: bool = False, dim: Any = None) -> Tensor:
    """Smallest values over `axis` or `dim` (None: all), as torch.amin."""
    return _extreme(x, axis, keepdim, dim, "amin", largest=False)


@autocast_op
def logsumexp(x: Tensor, axis: Any = None, keepdim: bool = False, dim: Any = None) -> Tensor:
    """log(sum(exp(x))), computed stably around the maximum; -inf over an empty axis."""
    x = floating(x)
    return _logsumexp(x, _reduction_axes(x, axis, dim, "logsumexp"), keepdim)


@in_accumulation_dtype
def _logsumexp(x: Tensor, axes: tuple, keepdim: bool) -> Tensor:
    if builtins.all(x.shape[a] for a in axes):
        peak = constant(lambda xp, a: _finite_or_zero(xp, a.max(axes, keepdims=True)), x)
    else:  # an empty sum is 0: its log is -inf
        peak = constant(lambda xp, a: xp.zeros(kept_shape(a.shape, axes), dtype=a.dtype), x)
    out = sum((x - peak).exp(), axes, keepdim=True).log() + peak
    return out if keepdim else out.reshape(reduced_shape(x.shape, axes))


def _finite_or_zero(xp, a):
    """a with its infinities and NaNs replaced by 0."""
    return xp.where(xp.isfinite(a), a, 0)


@autocast_op
def prod(x: Tensor, axis: Any = None, keepdim: bool = False, dim: Any = None,
         dtype: Any = None) -> Tensor:
    """Product over axes (1 over an empty axis); a tree of multiplications, so zeros get
    exact gradients. Integers and bools multiply in int64; `dtype` casts first."""
    axes = check_axes(x, axis, dim, "prod")
    return _product_tree(accumulating(x, dtype), axes, keepdim)


@in_accumulation_dtype
def _product_tree(x: Tensor, axes: tuple, keepdim: bool) -> Tensor:
    kept = tuple(a for a in range(x.ndim) if a not in axes)
    shape = x.shape
    x = x.permute(*kept, *axes).reshape(*[shape[a] for a in kept],
                                        math.prod(shape[a] for a in axes))
    while x.shape[-1] > 1:
        if x.shape[-1] % 2:
            x = x.pad(((0, 0),) * (x.ndim - 1) + ((0, 1),), value=1.0)
        x = x[..., 0::2] * x[..., 1::2]
    if x.shape[-1] == 0:
        x = x.pad(((0, 0),) * (x.ndim - 1) + ((0, 1),), value=1.0)
    out = x.reshape(*[shape[a] for a in kept])
    return out.reshape(kept_shape(shape, axes)) if keepdim else out


_norm = in_accumulation_dtype(Norm.apply)
_NORM_ORDERS = "'fro', or a number: 2, 1, inf, -inf, 0, or any other float"


@autocast_op
def norm(x: Tensor, p: Any = "fro", dim: Any = None, keepdim: bool = False, dtype: Any = None,
         axis: Any = None) -> Tensor:
    """The vector p-norm over `dim` (or `axis`; None: all elements), as torch.norm for
    p='fro' (= 2) and numbers: sum(|x|^p)^(1/p); inf: max |x|; -inf: min |x|; 0: the count
    of nonzeros. Integers give float32; `dtype` casts first. The gradient at 0 is 0.

    >>> Tensor([3.0, 4.0]).norm().item()    # 5.0
    """
    if isinstance(p, str):
        if p != "fro":
            raise ValueError(f"norm: p={p!r} is not supported; valid: {_NORM_ORDERS}")
        p = 2
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or math.isnan(p):
        raise ValueError(f"norm: p={p!r} is not supported; valid: {_NORM_ORDERS}")
    x = _float_dtype(x, dtype, "norm")
    axes = _reduction_axes(x, axis, dim, "norm")
    if p in (math.inf, -math.inf) and builtins.any(x.shape[a] == 0 for a in axes):
        raise RuntimeError(f"norm: cannot compute the {p} norm over an empty axis of a tensor "
                           f"of shape {tuple(x.shape)} (max/min have no identity)")
    return _norm(x, p=float(p), axes=axes, keepdim=keepdim)


def count_nonzero(x: Tensor, dim: Any = None, axis: Any = None) -> Tensor:
    """The number of nonzero (NaN included) elements over `dim` or `axis` (None: all), as
    int64 (no gradient)."""
    axes = _reduction_axes(x, axis, dim, "count_nonzero")
    return constant(lambda xp, a: (a != 0).sum(axis=axes).astype(dtypes.int64), x)


def _truth(x: Tensor, axis: Any, keepdim: bool, dim: Any, op: str) -> Tensor:
    axes = check_axes(x, axis, dim, op)

    def truth(xp, a):
        out = (a.all if op == "all" else a.any)(axis=axes, keepdims=keepdim)
        # as PyTorch: bool results, except uint8 inputs give uint8
        return out.astype(a.dtype) if a.dtype.name == "uint8" else out
    return constant(truth, x)


def any(x: Tensor, axis: Any = None, keepdim: bool = False, dim: Any = None) -> Tensor:  # noqa: A001
    """Whether any element over `axis` or `dim` (None: all) is nonzero (no gradient)."""
    return _truth(x, axis, keepdim, dim, "any")


def all(x: Tensor, axis: Any = None, keepdim: bool = False, dim: Any = None) -> Tensor:  # noqa: A001
    """Whether every element over `axis` or `dim` (None: all) is nonzero (no gradient)."""
    return _truth(x, axis, keepdim, dim, "all")


def _arg(x: Tensor, axis: Any, keepdim: bool, dim: Any, op: str) -> Tensor:
    chosen = axis if dim is None else dim
    if chosen is None:
        _check_nonempty(x, None, (), op)

        def flat_arg(xp, a):
            out = getattr(xp, op)(a.reshape(-1), axis=0)
            return out.reshape((1,) * a.ndim) if keepdim else out
        return constant(flat_arg, x)
    d = check_axis(x, chosen, op)
    if x.ndim == 0:
        return constant(lambda xp, a: xp.zeros((), dtype=dtypes.int64), x)
    _check_nonempty(x, chosen, (d,), op)
    return constant(lambda xp, a: getattr(xp, op)(a, axis=d, keepdims=keepdim).astype(
        dtypes.int64, copy=False), x)


def argmax(x: Tensor, axis: Any = None, keepdim: bool = False, dim: Any = None) -> Tensor:
    """Index of the largest value (of the flattened tensor when axis is None; the first at
    ties; NaN counts as the largest)."""
    return _arg(x, axis, keepdim, dim, "argmax")


def argmin(x: Tensor, axis: Any = None, keepdim: bool = False, dim: Any = None) -> Tensor:
    """Index of the smallest value (of the flattened tensor when axis is None; the first at
    ties)."""
    return _arg(x, axis, keepdim, dim, "argmin")


def nansum(x: Tensor, axis: Any = None, keepdim: bool = False, dim: Any = None,
           dtype: Any = None) -> Tensor:
    """The sum with NaNs counted as 0 (over `axis` or `dim`, as sum); their gradient is 0.

    >>> Tensor([1.0, float("nan"), 2.0]).nansum()      # 3.0
    """
    x = accumulating(x, dtype)
    if dtypes.is_float(x.dtype):
        x = constant(lambda xp, a: xp.isnan(a), x).where(0.0, x)
    return sum(x, axis, keepdim, dim)


def nanmean(x: Tensor, axis: Any = None, keepdim: bool = False, dim: Any = None,
            dtype: Any = None) -> Tensor:
    """The mean of the values that are not NaN (over `axis` or `dim`; NaN where all are), as
    torch.nanmean; floating inputs only (or a floating `dtype`)."""
    if not dtypes.is_float(x.dtype if dtype is None else to_dtype(dtype)):
        raise TypeError(f"nanmean: expects a floating input or dtype, got {x.dtype.name}; "
                        "use mean() for integers")
    x = x if dtype is None else x.cast(to_dtype(dtype))
    count = constant(lambda xp, a: ~xp.isnan(a), x).sum(axis, keepdim, dim)
    return nansum(x, axis, keepdim, dim) / count.cast(x.dtype)


def aminmax(x: Tensor, *, dim: Any = None, keepdim: bool = False, axis: Any = None) -> Any:
    """(min, max) over `dim` (or `axis`; None: all elements) as torch.aminmax's named tuple
    with fields min and max; gradients as amin's and amax's.

    >>> Tensor([3.0, 1.0, 2.0]).aminmax()      # aminmax(min=1.0, max=3.0)
    """
    chosen = axis if dim is None else dim
    if chosen is not None and not isinstance(chosen, numbers.Integral):
        raise TypeError(f"aminmax: dim must be an int or None, got {type(chosen).__name__}")
    pair = _aminmax_type()
    return pair(amin(x, chosen, keepdim), amax(x, chosen, keepdim))


@functools.cache
def _aminmax_type() -> type:
    return collections.namedtuple("aminmax", ("min", "max"))


@autocast_op
def renorm(x: Tensor, p: float, dim: int, maxnorm: float, *, axis: Any = None) -> Tensor:
    """Each slice along `dim` (x.select(dim, i)) whose p-norm exceeds `maxnorm` scaled down to
    norm maxnorm (PyTorch's factor maxnorm / (norm + 1e-7)); the others unchanged.

    >>> Tensor([[3.0, 4.0], [0.3, 0.4]]).renorm(2, 0, 1.0)     # [[0.6, 0.8], [0.3, 0.4]]
    """
    if not isinstance(p, numbers.Real) or p <= 0:
        raise RuntimeError(f"renorm: p must be a positive number, got {p!r}")
    if not isinstance(maxnorm, numbers.Real) or maxnorm < 0:
        raise RuntimeError(f"renorm: maxnorm must be a non-negative number, got {maxnorm!r}")
    if x.ndim < 2:
        raise RuntimeError(f"renorm: needs at least 2 dimensions, got shape {tuple(x.shape)}")
    d = check_axis(x, dim if axis is None else axis, "renorm")
    x = floating(x)
    norms = x.norm(p, dim=tuple(a for a in range(x.ndim) if a != d), keepdim=True)
    return x * (norms > maxnorm).where(maxnorm / (norms + 1e-7), 1.0)


# ---------------------------------------------------------------------- public names
_PUBLIC = {  # Tensor methods and package functions (torch.<name>)
    "sum": sum, "mean": mean, "var": var, "std": std, "max": max, "min": min,
    "logsumexp": logsumexp, "prod": prod, "argmax": argmax, "argmin": argmin, "any": any,
    "all": all, "amax": amax, "amin": amin, "var_mean": var_mean, "std_mean": std_mean,
    "norm": norm, "count_nonzero": count_nonzero, "nansum": nansum, "nanmean": nanmean,
    "aminmax": aminmax, "renorm": renorm,
}
EXPORTS = Exports(methods=_PUBLIC, functions=_PUBLIC)
