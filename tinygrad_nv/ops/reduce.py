"""Reductions over a tuple of (non-negative, sorted) axes."""

from __future__ import annotations

from tinygrad_nv.autograd import Function
from tinygrad_nv.ops.movement import Expand, Reshape


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
