"""Order statistics beside scan.py's sort and median: msort, quantile, nanquantile and
nanmedian,
computed as PyTorch's are: sort along the axis (NaN last), pick ranks, interpolate. The
values are a gather from the sorted values (and a lerp between two of them), so the gradient
goes to the elements picked, as PyTorch's.

>>> Tensor([1.0, 2.0, 3.0, 4.0]).quantile(0.5)        # 2.5
"""

from __future__ import annotations

import numbers
from typing import TYPE_CHECKING, Any

from tinygrad_nv.autograd import no_grad
from tinygrad_nv.autograd.autocast_state import autocast_op
from tinygrad_nv.dtype import dtypes
from tinygrad_nv.ops import Exports, return_type
from tinygrad_nv.ops._checks import axis as check_axis
from tinygrad_nv.ops._checks import dim_or_axis, is_tensor
from tinygrad_nv.ops.logic import isnan
from tinygrad_nv.ops.scan import sort

if TYPE_CHECKING:
    from tinygrad_nv._tensor import Tensor

INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


def msort(x: Tensor) -> Tensor:
    """x sorted along its first axis (the values of sort(x, 0)), as torch.msort."""
    return sort(x, 0).values


def _check(x: Tensor, q: Any, interpolation: str, op: str) -> Tensor:
    """q as a 1-D tensor in x's dtype, after PyTorch's checks of x, q and interpolation."""
    if x.dtype not in (dtypes.float32, dtypes.float64):
        raise RuntimeError(f"{op}() input tensor must be either float or double dtype, got "
                           f"{x.dtype.name}")
    if x.numel() == 0:
        raise RuntimeError(f"{op}() input tensor must be non-empty")
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"{op}() interpolation must be one of linear, lower, higher, midpoint "
                         f"or nearest. Got {interpolation!r}")
    if is_tensor(q):
        if q.ndim > 1:
            raise RuntimeError(f"{op}() q must be a scalar or 1D tensor, got shape "
                               f"{tuple(q.shape)}")
        if q.dtype != x.dtype:
            raise RuntimeError(f"{op}() q tensor must be same dtype as the input tensor, got "
                               f"{q.dtype.name} and {x.dtype.name}")
        qs = q.detach().reshape(-1)
    elif isinstance(q, numbers.Real) and not isinstance(q, bool):
        qs = x._like(x.backend.xp.asarray([q], dtype=x.dtype))
    else:
        raise TypeError(f"{op}(): q must be a float or a Tensor, got {type(q).__name__}")
    if qs.numel() and not bool(((qs >= 0) & (qs <= 1)).all()):
        raise RuntimeError(f"{op}() q values must be in the range [0, 1]")
    return qs


def _quantile(x: Tensor, q: Any, dim: Any, keepdim: bool, interpolation: str, op: str,
              ignore_nan: bool) -> Tensor:
    qs = _check(x, q, interpolation, op)
    d = None if dim is None else check_axis(x, dim, op)
    rows = x.reshape(-1) if d is None else x.reshape(1) if x.ndim == 0 else x.movedim(d, -1)
    ordered = sort(rows, -1).values  # NaN last
    n = ordered.shape[-1]
    with no_grad():
        nan = isnan(ordered)
        if ignore_nan:  # a row of NaN only: rank -q, sent to the last place (NaN)
            rank = qs * ((~nan).sum(-1, keepdim=True).cast(x.dtype) - 1)
            rank = (rank < 0).where(n - 1, rank)
        else:  # a row with a NaN: the last place (NaN)
            rank = nan.any(-1, keepdim=True).where(n - 1, qs * (n - 1))
        below, above = rank.floor(), rank.ceil()
    if interpolation in ("lower", "higher", "nearest"):
        chosen = {"lower": below, "higher": above, "nearest": rank.round()}[interpolation]
        out = ordered.gather(-1, chosen.long())
    else:
        weight = (rank - below) if interpolation == "linear" else 0.5
        out = ordered.gather(-1, below.long()).lerp(ordered.gather(-1, above.long()), weight)
    out = out.movedim(-1, 0)  # (len(q), the kept axes...)
    if keepdim:
        out = out.reshape(out.shape[0], *(1 for _ in x.shape)) if d is None else \
            out.unsqueeze(d + 1) if x.ndim else out
    return out if is_tensor(q) and q.ndim == 1 else out.squeeze(0)


@autocast_op
def quantile(x: Tensor, q: Any, dim: Any = None, keepdim: bool = False, *,
             interpolation: str = "linear", axis: Any = None) -> Tensor:
    """The q-th quantiles (q a number or a 1-D tensor in [0, 1], in x's dtype) of x along
    `dim` (None: all elements), interpolated between the two nearest sorted values by
    `interpolation` ('linear', 'lower', 'higher', 'midpoint' or 'nearest'); NaN where a NaN
    is in the row. A 1-D q adds a first axis of its length, as torch.quantile.

    >>> Tensor([0.0, 1.0, 2.0]).quantile(Tensor([0.25, 1.0]))     # [0.5, 2.0]
    """
    dim = dim_or_axis(dim, axis, "quantile", None)
    return _quantile(x, q, dim, keepdim, interpolation, "quantile", ignore_nan=False)


@autocast_op
def nanquantile(x: Tensor, q: Any, dim: Any = None, keepdim: bool = False, *,
                interpolation: str = "linear", axis: Any = None) -> Tensor:
    """quantile ignoring NaN: the quantiles of the values that are not NaN (NaN for a row of
    NaN only), as torch.nanquantile."""
    dim = dim_or_axis(dim, axis, "nanquantile", None)
    return _quantile(x, q, dim, keepdim, interpolation, "nanquantile", ignore_nan=True)


def nanmedian(x: Tensor, dim: Any = None, keepdim: bool = False, *, axis: Any = None) -> Any:
    """The median of the values that are not NaN (the lower of the two middle ones for an
    even count; NaN where all are NaN), as torch.nanmedian: without `dim` a 0-d tensor,
    with `dim` the named tuple (values, indices) along it. The gradient goes to the element
    picked.

    >>> Tensor([1.0, float("nan"), 3.0, 2.0]).nanmedian()      # 2.0
    """
    dim = dim_or_axis(dim, axis, "nanmedian", None)
    if dim is None:
        if x.numel() == 0:
            return x._like(x.backend.xp.asarray(float("nan"), dtype=x.dtype))
        return nanmedian(x.reshape(-1), 0).values
    d = check_axis(x, dim, "nanmedian")
    rows = x.reshape(1) if x.ndim == 0 else x
    if rows.shape[d] == 0:
        raise IndexError(f"nanmedian(): Expected reduction dim {d} to have non-zero size, got "
                         f"shape {tuple(x.shape)}")
    ordered, order = sort(rows, d)
    with no_grad():
        count = (ordered == ordered).sum(d, keepdim=True)  # the values that are not NaN
        middle = ((count - 1) // 2).clamp(0, None)
    values, indices = ordered.gather(d, middle), order.gather(d, middle)
    if not keepdim or x.ndim == 0:
        values, indices = values.squeeze(d), indices.squeeze(d)
    return return_type("nanmedian")(values, indices)


# ---------------------------------------------------------------------- public names
_PUBLIC = {"msort": msort, "quantile": quantile, "nanquantile": nanquantile,
           "nanmedian": nanmedian}
EXPORTS = Exports(methods=_PUBLIC, functions=_PUBLIC)
