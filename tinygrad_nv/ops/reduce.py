"""Reductions: sum, mean, var, std, max, min, logsumexp, prod, argmax, argmin. The Functions
take a tuple of (non-negative, sorted) axes; the functions accept `axis` or `dim`. The
functions shadow the builtins sum/max/min/any/all here: use `builtins.` for those."""

from __future__ import annotations

import builtins
import math
from typing import TYPE_CHECKING, Any

from tinygrad_nv.autograd import Function
from tinygrad_nv.dtype import dtypes
from tinygrad_nv.ops._checks import axes as check_axes
from tinygrad_nv.ops._checks import axis as check_axis
from tinygrad_nv.ops.movement import Expand, Reshape
from tinygrad_nv.ops.unary import floating

if TYPE_CHECKING:
    from tinygrad_nv.tensor import Tensor


def kept_shape(shape: tuple, axes: tuple) -> tuple:
    """`shape` with the reduced axes set to 1: the keepdim=True shape."""
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


class Sum(Function):
    def forward(self, x, axes: tuple, keepdim: bool):
        self.axes = axes
        return x.sum(axis=axes, keepdims=keepdim)

    def backward(self, g):
        shape = self.parents[0].shape
        if g.ndim and g.ndim != len(shape):  # keepdim=False dropped axes: put them back
            g = Reshape.apply(g, shape=kept_shape(shape, self.axes))
        return Expand.apply(g, shape=shape)


class Max(Function):
    """amax: the gradient is split evenly between tied maxima."""

    def forward(self, x, axes: tuple, keepdim: bool):
        self.axes = axes
        self.out = x.max(axis=axes, keepdims=True)
        return self.out if keepdim else self.out.reshape(
            tuple(n for i, n in enumerate(x.shape) if i not in axes))

    def backward(self, g):
        x = self.parents[0]
        hits = x.data == self.out
        share = hits / hits.sum(axis=self.axes, keepdims=True)
        return g.reshape(self.out.shape).expand(x.shape) * g._like(share.astype(g.dtype))


# ---------------------------------------------------------------------- functions
def sum(x: Tensor, axis: Any = None, keepdim: bool = False, dim: Any = None) -> Tensor:
    """The sum over `axis` (None: all; an int or a tuple, negative allowed) or `dim`."""
    return Sum.apply(x, axes=check_axes(x, axis, dim, "sum"), keepdim=keepdim)


def mean(x: Tensor, axis: Any = None, keepdim: bool = False, dim: Any = None) -> Tensor:
    """The mean over `axis` or `dim`."""
    x = floating(x)
    axes = check_axes(x, axis, dim, "mean")
    count = math.prod(x.shape[a] for a in axes)
    return sum(x, axes, keepdim=keepdim) / count


def var(x: Tensor, axis: Any = None, keepdim: bool = False, correction: int = 1,
        dim: Any = None) -> Tensor:
    """Variance, unbiased by default (divides by n - correction)."""
    x = floating(x)
    axes = check_axes(x, axis, dim, "var")
    count = math.prod(x.shape[a] for a in axes)
    centered = x - mean(x, axes, keepdim=True)
    divisor = builtins.max(count - correction, 0)
    return sum(centered * centered, axes, keepdim=keepdim) / divisor


def std(x: Tensor, axis: Any = None, keepdim: bool = False, correction: int = 1,
        dim: Any = None) -> Tensor:
    """The standard deviation, unbiased by default (correction=1)."""
    return var(x, axis, keepdim, correction, dim).sqrt()


def _max(x: Tensor, axis: Any, keepdim: bool, dim: Any, op: str) -> Tensor:
    axes = check_axes(x, axis, dim, op)
    if builtins.any(x.shape[a] == 0 for a in axes) or x.numel() == 0:
        raise ValueError(f"{op}: cannot reduce an empty tensor of shape {x.shape} "
                         f"over axes {axes}")
    return Max.apply(x, axes=axes, keepdim=keepdim)


def max(x: Tensor, axis: Any = None, keepdim: bool = False, dim: Any = None) -> Tensor:
    """Largest values (as torch.amax: ties share the gradient evenly)."""
    return _max(x, axis, keepdim, dim, "max")


def min(x: Tensor, axis: Any = None, keepdim: bool = False, dim: Any = None) -> Tensor:
    """Smallest values (as torch.amin: ties share the gradient evenly)."""
    return -_max(-x, axis, keepdim, dim, "min")


def logsumexp(x: Tensor, axis: Any = None, keepdim: bool = False, dim: Any = None) -> Tensor:
    """log(sum(exp(x))), computed stably around the maximum."""
    x = floating(x)
    xp = x.backend.xp
    axes = check_axes(x, axis, dim, "logsumexp")
    peak = _max(x, axes, True, None, "logsumexp").detach()
    peak = x._like(xp.where(xp.isfinite(peak.data), peak.data, 0))
    out = sum((x - peak).exp(), axes, keepdim=True).log() + peak
    return out if keepdim else out.reshape(
        tuple(n for i, n in enumerate(x.shape) if i not in axes))


def prod(x: Tensor, axis: Any = None, keepdim: bool = False, dim: Any = None) -> Tensor:
    """Product over axes; a tree of multiplications, so zeros get exact gradients."""
    axes = check_axes(x, axis, dim, "prod")
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
    return out.reshape(tuple(1 if a in axes else n for a, n in enumerate(shape))) \
        if keepdim else out


def _arg(x: Tensor, axis: Any, keepdim: bool, dim: Any, op: str, fn) -> Tensor:
    axis = axis if dim is None else dim
    if x.numel() == 0:
        raise ValueError(f"{op}: cannot take {op} of an empty tensor of shape {x.shape}")
    if axis is None:
        out = fn(x.data.reshape(-1), axis=0)
        return x._like(out.reshape((1,) * x.ndim) if keepdim else out)
    out = fn(x.data, axis=check_axis(x, axis, op), keepdims=keepdim)
    return x._like(out.astype(dtypes.int64))


def argmax(x: Tensor, axis: Any = None, keepdim: bool = False, dim: Any = None) -> Tensor:
    """Index of the largest value (of the flattened tensor when axis is None)."""
    return _arg(x, axis, keepdim, dim, "argmax", x.backend.xp.argmax)


def argmin(x: Tensor, axis: Any = None, keepdim: bool = False, dim: Any = None) -> Tensor:
    """Index of the smallest value (of the flattened tensor when axis is None)."""
    return _arg(x, axis, keepdim, dim, "argmin", x.backend.xp.argmin)


def any(x: Tensor) -> Tensor:
    """Whether any element is true (no gradient)."""
    return x._like(x.data.any())


def all(x: Tensor) -> Tensor:
    """Whether every element is true (no gradient)."""
    return x._like(x.data.all())
