"""Scans and order: cumsum, cumprod, cummax, cummin, logcumsumexp, sort, argsort, topk.
Each op works along one axis (`dim`, or its alias `axis`). Values picked out of the input
(cummax, cummin, sort, topk) are a gather, so their gradient goes back to the selected
elements."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tinygrad_nv.autograd import Function
from tinygrad_nv.autograd.autocast_state import autocast_op
from tinygrad_nv.autograd.function import constant
from tinygrad_nv.dtype import accumulation_dtype, dtypes
from tinygrad_nv.ops import Exports, return_type
from tinygrad_nv.ops._checks import axis as check_axis
from tinygrad_nv.ops._checks import is_int
from tinygrad_nv.ops.gather_scatter import take_along
from tinygrad_nv.ops.reduce import accumulating, in_accumulation_dtype
from tinygrad_nv.ops.unary import floating

if TYPE_CHECKING:
    from tinygrad_nv._tensor import Tensor


def _scan(xp, arrays: list, axis: int, combine) -> list:
    """Inclusive scan of the arrays along `axis` with an associative
    `combine(earlier, later) -> new`, each a list of one slice per array: log2(n) whole-array
    steps (Hillis-Steele), the same on NumPy and CuPy."""
    outs = [xp.moveaxis(a, axis, -1).copy() for a in arrays]
    n, step = outs[0].shape[-1], 1
    while step < n:
        new = combine([o[..., :-step] for o in outs], [o[..., step:] for o in outs])
        for o, values in zip(outs, new):
            o[..., step:] = values
        step *= 2
    return [xp.moveaxis(o, -1, axis) for o in outs]


def _flip(xp, a, axis: int, reverse: bool):
    return xp.flip(a, axis) if reverse else a


class CumSum(Function):
    """Running sums along `axis`; `reverse` sums from the end (the adjoint of the other)."""

    def forward(self, x, axis: int, reverse: bool):
        self.axis, self.reverse = axis, reverse
        xp = self.xp
        sums = xp.cumsum(_flip(xp, x, axis, reverse), axis=axis, dtype=accumulation_dtype(x.dtype))
        return _flip(xp, sums.astype(x.dtype, copy=False), axis, reverse)

    def backward(self, g):
        return CumSum.apply(g, axis=self.axis, reverse=not self.reverse)


class LogCumSumExp(Function):
    """log(cumsum(exp(x))) along `axis` as a scan of logaddexp (stable); `reverse` runs
    from the end."""

    save_output = True

    def forward(self, x, axis: int, reverse: bool):
        self.axis, self.reverse = axis, reverse
        xp = self.xp
        (out,) = _scan(xp, [_flip(xp, x, axis, reverse)], axis,
                       lambda earlier, later: [xp.logaddexp(earlier[0], later[0])])
        return _flip(xp, out, axis, reverse)

    def backward(self, g):
        # sum over j >= i of g_j exp(x_i - out_j), with the positive and the negative parts
        # of g in log space so that nothing overflows (PyTorch's formula)
        x, out = self.parents[0], self.output()
        lowest = float(self.xp.finfo(g.dtype).min) / 2  # log(0), finite: "- out" cannot overflow
        log_size = (g != 0).where(g.abs(), 1.0).log()

        def part(sign):
            logs = sign.where(log_size, lowest) - out
            return (LogCumSumExp.apply(logs, axis=self.axis, reverse=not self.reverse)
                    + x).exp()

        return part(g > 0) - part(g < 0)


# ---------------------------------------------------------------------- functions
def _dim(x: Tensor, dim: Any, axis: Any, op: str) -> int:
    chosen = dim if axis is None else axis
    if chosen is None:
        raise TypeError(f"{op}: missing the axis to work along (dim= or axis=); valid for a "
                        f"tensor of shape {tuple(x.shape)}: {-max(x.ndim, 1)} to "
                        f"{max(x.ndim, 1) - 1}")
    return check_axis(x, chosen, op)


def _as_1d(x: Tensor, fn, *args) -> Any:
    """fn on a 0-d tensor seen as shape (1,) along axis 0, results back to 0-d (as PyTorch,
    which treats a 0-d tensor as one element along dim 0 or -1)."""
    out = fn(x.reshape(1), 0, *args)
    if isinstance(out, tuple):
        return type(out)(*(t.reshape(()) for t in out))
    return out.reshape(())


@autocast_op
def cumsum(x: Tensor, dim: Any = None, dtype: Any = None, axis: Any = None) -> Tensor:
    """Running sums along `dim` (or `axis`): out[i] = x[0] + ... + x[i]. Integers and bools
    sum in int64; `dtype` casts the input first.

    >>> Tensor([1, 2, 3]).cumsum(0).tolist()     # [1, 3, 6]
    """
    d = _dim(x, dim, axis, "cumsum")
    x = accumulating(x, dtype)
    return CumSum.apply(x, axis=d, reverse=False) if x.ndim else _as_1d(x, cumsum)


@autocast_op
def cumprod(x: Tensor, dim: Any = None, dtype: Any = None, axis: Any = None) -> Tensor:
    """Running products along `dim` (or `axis`). Built from multiplications only, so inputs
    with zeros get exact gradients. Integers and bools multiply in int64.

    >>> Tensor([1, 2, 3]).cumprod(0).tolist()    # [1, 2, 6]
    """
    d = _dim(x, dim, axis, "cumprod")
    x = accumulating(x, dtype)
    return _products(x, d) if x.ndim else _as_1d(x, cumprod)


@in_accumulation_dtype
def _products(x: Tensor, d: int) -> Tensor:
    n, step = x.shape[d], 1
    while step < n:  # x[i] *= x[i - step] (ones before the start): a Hillis-Steele scan
        earlier = x[(slice(None),) * d + (slice(0, n - step),)]
        x = x * earlier.pad(tuple((step, 0) if a == d else (0, 0) for a in range(x.ndim)),
                            value=1)
        step *= 2
    return x


def logcumsumexp(x: Tensor, dim: Any = None, axis: Any = None) -> Tensor:
    """log(cumsum(exp(x))) along `dim` (or `axis`), computed stably (integers give
    float32)."""
    d = _dim(x, dim, axis, "logcumsumexp")
    x = floating(x)
    return _logcumsumexp(x, axis=d, reverse=False) if x.ndim else _as_1d(x, logcumsumexp)


_logcumsumexp = in_accumulation_dtype(LogCumSumExp.apply)


def _later_wins(earlier, later, largest: bool):
    """cummax/cummin's rule, as PyTorch: a NaN takes over; at ties the later index wins."""
    better = later >= earlier if largest else later <= earlier
    return (later != later) | ((earlier == earlier) & better)


def _running_extreme(x: Tensor, d: int, largest: bool) -> tuple:
    if x.ndim == 0:
        return _as_1d(x, _running_extreme, largest)

    def running_indices(xp, values):
        positions = xp.broadcast_to(
            xp.arange(values.shape[d]).reshape((-1,) + (1,) * (values.ndim - 1 - d)),
            values.shape)

        def combine(earlier, later):
            wins = _later_wins(earlier[0], later[0], largest)
            return [xp.where(wins, a, b) for a, b in zip(later, earlier)]

        _, indices = _scan(xp, [values, positions], d, combine)
        return indices.astype(dtypes.int64, copy=False)

    indices = constant(running_indices, x)
    return return_type("cummax" if largest else "cummin")(take_along(x, indices._data, d),
                                                          indices)


def cummax(x: Tensor, dim: Any = None, axis: Any = None) -> tuple:
    """(values, indices): the running maxima along `dim` (or `axis`) and where they are, as
    torch.cummax (the latest index at ties; a NaN stays once seen). The gradient goes to the
    selected elements.

    >>> Tensor([1.0, 3.0, 2.0]).cummax(0).indices.tolist()    # [0, 1, 1]
    """
    return _running_extreme(x, _dim(x, dim, axis, "cummax"), largest=True)


def cummin(x: Tensor, dim: Any = None, axis: Any = None) -> tuple:
    """(values, indices): the running minima along `dim` (or `axis`), as torch.cummin."""
    return _running_extreme(x, _dim(x, dim, axis, "cummin"), largest=False)


def _order(xp, a, d: int, descending: bool):
    """Stable sorting indices of the array `a` along `d`; NaN sorts as the largest value, as
    in PyTorch."""
    if not descending:
        return xp.argsort(a, axis=d, kind="stable").astype(dtypes.int64, copy=False)
    # stable descending: sort the reversed array, reverse that order, map the indices back
    order = xp.flip(xp.argsort(xp.flip(a, d), axis=d, kind="stable"), d)
    return (a.shape[d] - 1 - order).astype(dtypes.int64, copy=False)


def sort(x: Tensor, dim: Any = -1, descending: bool = False, stable: bool = False,
         axis: Any = None) -> tuple:
    """(values, indices) of `x` sorted along `dim` (or `axis`), as torch.sort. NaN counts as
    the largest value; the sort is always stable (equal values keep their order), so
    `stable` changes nothing. The gradient goes back to each element's place.

    >>> values, indices = Tensor([3.0, 1.0, 2.0]).sort()   # [1., 2., 3.], [1, 2, 0]
    """
    d = check_axis(x, dim if axis is None else axis, "sort")
    if x.ndim == 0:
        return _as_1d(x, sort, descending)
    order = constant(lambda xp, a: _order(xp, a, d, descending), x)
    return return_type("sort")(take_along(x, order._data, d), order)


def argsort(x: Tensor, dim: Any = -1, descending: bool = False, stable: bool = False,
            axis: Any = None) -> Tensor:
    """The indices that sort `x` along `dim` (or `axis`), as torch.argsort (always stable)."""
    d = check_axis(x, dim if axis is None else axis, "argsort")
    if x.ndim == 0:
        return _as_1d(x, argsort, descending)
    return constant(lambda xp, a: _order(xp, a, d, descending), x)


def topk(x: Tensor, k: int, dim: Any = -1, largest: bool = True,
         sorted: bool = True, axis: Any = None) -> tuple:  # noqa: A002
    """(values, indices) of the `k` largest (or, largest=False, smallest) values along `dim`
    (or `axis`), as torch.topk; always in sorted order, the first index winning ties. The
    gradient goes back to the selected elements.

    >>> Tensor([1.0, 5.0, 3.0]).topk(2).indices.tolist()    # [1, 2]
    """
    d = check_axis(x, dim if axis is None else axis, "topk")
    if not is_int(k):
        raise TypeError(f"topk: k must be an int, got {type(k).__name__}")
    size = x.shape[d] if x.ndim else 1
    if not 0 <= k <= size:
        raise RuntimeError(f"topk: k={k} is out of range for axis {d} of size {size} in a "
                           f"tensor of shape {tuple(x.shape)} (valid: 0 to {size})")
    if x.ndim == 0:  # as PyTorch: the element itself, for k = 0 as well
        return _as_1d(x, lambda one, axis0: topk(one, 1, axis0, largest))
    first_k = (slice(None),) * d + (slice(0, k),)
    order = constant(lambda xp, a: _order(xp, a, d, largest)[first_k], x)
    return return_type("topk")(take_along(x, order._data, d), order)


class Median(Function):
    """The lower median of all elements (NaN where there is one), as torch.median(): the
    gradient is split evenly between the elements equal to it."""

    def forward(self, x):
        xp = self.xp
        flat = xp.sort(x.reshape(-1))  # NaN sorts last: the last element says if there is one
        last = flat[-1]
        self.value = xp.where(last != last, last, flat[(flat.size - 1) // 2])
        return self.value

    def backward(self, g):
        x = self.parents[0]._data
        hits = (x == self.value) | ((x != x) & (self.value != self.value))
        return g * g._like((hits / hits.sum()).astype(g.dtype))


def _kth_indices(xp, a, d: int, k: int | None):
    """Where the k-th smallest value (k None: the lower median, a NaN where there is one) of
    each line of `a` along `d` is, with `d` kept: its place in a stable ascending sort."""
    order = _order(xp, a, d, False)
    picked = xp.take(order, [(a.shape[d] - 1) // 2 if k is None else k - 1], axis=d)
    if k is None and a.dtype.kind == "f":  # PyTorch's median propagates NaN: the first one
        nan = a != a
        picked = xp.where(nan.any(axis=d, keepdims=True),
                          xp.argmax(nan, axis=d, keepdims=True), picked)
    return picked


def _mode_indices(xp, a, d: int):
    """Where the most frequent value of each line of `a` along `d` is (the smallest among
    equally frequent ones, at its last place, as PyTorch), with `d` kept."""
    order = _order(xp, a, d, False)
    s = xp.take_along_axis(a, order, axis=d)
    n = a.shape[d]
    places = xp.broadcast_to(xp.arange(n).reshape((-1,) + (1,) * (a.ndim - 1 - d)), a.shape)
    head, later, earlier = ((slice(None),) * d + (part,) for part in (
        slice(0, 1), slice(1, None), slice(0, -1)))
    starts = xp.concatenate([xp.ones_like(s[head], dtype=bool), s[later] != s[earlier]],
                            axis=d) | (s != s)  # every NaN is a value of its own
    (run_start,) = _scan(xp, [xp.where(starts, places, 0)], d,
                         lambda earlier, later: [xp.maximum(earlier[0], later[0])])
    run_end = xp.argmax(places - run_start, axis=d, keepdims=True)  # the earliest longest run
    return xp.take_along_axis(order, run_end, axis=d)


def _selected(x: Tensor, d: int, keepdim: bool, name: str, indices_of) -> tuple:
    """(values, indices) of the one element per line along `d` that `indices_of(xp, a)`
    names (with `d` kept); the gradient goes to it."""
    if x.ndim == 0:
        return _as_1d(x, lambda one, axis0: _selected(one, axis0, False, name, indices_of))
    if x.shape[d] == 0:
        raise IndexError(f"{name}: axis {d} of a tensor of shape {tuple(x.shape)} is empty (valid: "
                         "a non-empty axis)")
    indices = constant(lambda xp, a: indices_of(xp, a).astype(dtypes.int64, copy=False), x)
    values = take_along(x, indices._data, d)
    if not keepdim:
        values, indices = values.squeeze(d), indices.squeeze(d)
    return return_type(name)(values, indices)


def kthvalue(x: Tensor, k: int, dim: Any = -1, keepdim: bool = False,
             axis: Any = None) -> tuple:
    """(values, indices) of the k-th smallest element along `dim` (or `axis`), as
    torch.kthvalue (NaN counts as the largest; the first of equal values). The gradient goes
    to the selected element.

    >>> Tensor([3.0, 1.0, 2.0]).kthvalue(2)       # kthvalue(values=2., indices=2)
    """
    d = check_axis(x, dim if axis is None else axis, "kthvalue")
    size = x.shape[d] if x.ndim else 1
    if not is_int(k) or not 1 <= k <= size:
        raise RuntimeError(f"kthvalue(): selected number k={k!r} out of range for dimension "
                           f"{d} of size {size} (valid: 1 to {size})")
    return _selected(x, d, keepdim, "kthvalue", lambda xp, a: _kth_indices(xp, a, d, int(k)))


def median(x: Tensor, dim: Any = None, keepdim: bool = False, axis: Any = None) -> Any:
    """The lower median, as torch.median: of all elements (a tensor; the gradient split
    between the elements equal to it), or (values, indices) along `dim` (or `axis`), the
    gradient to the selected element. NaN propagates.

    >>> Tensor([[1.0, 3.0, 2.0]]).median(dim=1)   # median(values=[2.], indices=[2])
    """
    chosen = dim if axis is None else axis
    if chosen is None:
        if x.numel() == 0 and x.dtype.kind != "f":
            raise RuntimeError(f"median: an empty {x.dtype.name} tensor has no median")
        if x.numel() == 0:
            return x._like(x.backend.xp.full((), float("nan"), dtype=x.dtype))
        return Median.apply(x)
    d = check_axis(x, chosen, "median")
    return _selected(x, d, keepdim, "median", lambda xp, a: _kth_indices(xp, a, d, None))


def mode(x: Tensor, dim: Any = -1, keepdim: bool = False, axis: Any = None) -> tuple:
    """(values, indices): the most frequent value along `dim` (or `axis`), the smallest of
    equally frequent ones, and its last place, as torch.mode. The gradient goes to it.

    >>> Tensor([2.0, 1.0, 2.0, 1.0]).mode()       # mode(values=1., indices=3)
    """
    d = check_axis(x, dim if axis is None else axis, "mode")
    return _selected(x, d, keepdim, "mode", lambda xp, a: _mode_indices(xp, a, d))


def diff(x: Tensor, n: int = 1, dim: Any = -1, prepend: Tensor | None = None,
         append: Tensor | None = None, *, axis: Any = None) -> Tensor:
    """The n-th forward difference along `dim` (or `axis`): out[i] = x[i + 1] - x[i], n times,
    after `prepend` and `append` are joined on along that axis; bools give x[i + 1] != x[i],
    as torch.diff.

    >>> Tensor([1.0, 4.0, 9.0]).diff()      # [3.0, 5.0]
    """
    if x.ndim == 0:
        raise RuntimeError("diff: expects input to be at least one-dimensional, got a 0-d "
                           "tensor")
    if not is_int(n) or n < 0:
        raise RuntimeError(f"diff: order n must be a non-negative int, got {n!r}")
    d = check_axis(x, dim if axis is None else axis, "diff")
    if n == 0:  # x as it is, prepend and append ignored (PyTorch's and NumPy's)
        return x
    parts = [t for t in (prepend, x, append) if t is not None]
    for t in parts:
        if not hasattr(t, "shape") or t.ndim != x.ndim:
            raise RuntimeError(f"diff: prepend and append must be tensors with the input's "
                               f"{x.ndim} dimensions, got {getattr(t, 'shape', type(t))}")
    out = type(x).cat(*parts, dim=d) if len(parts) > 1 else x
    before, after = (slice(None),) * d + (slice(None, -1),), (slice(None),) * d + (slice(1, None),)
    for _ in range(n):
        out = out[after] != out[before] if out.dtype == dtypes.bool else out[after] - out[before]
    return out


def unique(x: Tensor, sorted: bool = True, return_inverse: bool = False,  # noqa: A002
           return_counts: bool = False, dim: Any = None, *, axis: Any = None) -> Any:
    """The distinct values in ascending order (of the flattened tensor, or the distinct slices
    along `dim`/`axis`), as torch.unique; with `return_inverse` also each element's (slice's)
    index in them (x's shape for dim None), with `return_counts` how often each occurs (both
    int64). No gradient. `sorted=False` gives them sorted too, as PyTorch on the CPU.

    >>> Tensor([3, 1, 3]).unique(return_counts=True)      # ([1, 3], [1, 2])
    """
    chosen = dim if axis is None else axis
    d = None if chosen is None else check_axis(x, chosen, "unique")
    values = constant(lambda xp, a: xp.unique(a, axis=d), x)
    out = [values]
    if return_inverse:
        shape = x.shape if d is None else (x.shape[d],)
        out.append(constant(lambda xp, a: xp.unique(a, return_inverse=True, axis=d)[1]
                            .reshape(shape).astype(dtypes.int64), x))
    if return_counts:
        out.append(constant(lambda xp, a: xp.unique(a, return_counts=True, axis=d)[1]
                            .astype(dtypes.int64), x))
    return values if len(out) == 1 else tuple(out)


# ---------------------------------------------------------------------- public names
_PUBLIC = {  # Tensor methods and package functions (torch.<name>)
    "cumsum": cumsum, "cumprod": cumprod, "cummax": cummax, "cummin": cummin,
    "logcumsumexp": logcumsumexp, "sort": sort, "argsort": argsort, "topk": topk,
    "kthvalue": kthvalue, "median": median, "mode": mode, "diff": diff, "unique": unique,
}
EXPORTS = Exports(methods=_PUBLIC, functions=_PUBLIC)
