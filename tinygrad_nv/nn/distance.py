"""Layers of two inputs: CosineSimilarity, PairwiseDistance and Bilinear (y = x1^T A x2 + b),
with PyTorch's arguments, defaults, initialisation and parameter names.

>>> nn.Bilinear(4, 3, 2)(Tensor.randn(8, 4), Tensor.randn(8, 3)).shape      # (8, 2)
"""

from __future__ import annotations

import math
from typing import Any

from tinygrad_nv._tensor import Tensor
from tinygrad_nv.nn import init
from tinygrad_nv.nn.layers import _positive
from tinygrad_nv.nn.module import Module
from tinygrad_nv.ops import distance


class CosineSimilarity(Module):
    """Cosine of the angle between x1 and x2 along `dim` (norms clamped at eps)."""

    def __init__(self, dim: int = 1, eps: float = 1e-8):
        super().__init__()
        self.dim, self.eps = dim, eps

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return distance.cosine_similarity(x1, x2, self.dim, self.eps)


class PairwiseDistance(Module):
    """||x1 - x2 + eps||_p over the last axis."""

    def __init__(self, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False):
        super().__init__()
        self.norm, self.eps, self.keepdim = p, eps, keepdim  # PyTorch's attribute names

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return distance.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)


class Bilinear(Module):
    """y = x1^T weight[k] x2 + bias[k] for each output k: weight (out, in1, in2), bias (out,),
    both U(-1/sqrt(in1), 1/sqrt(in1)) at first."""

    def __init__(self, in1_features: int, in2_features: int, out_features: int,
                 bias: bool = True, device: Any = None, dtype: Any = None):
        super().__init__()
        _positive("Bilinear", in1_features=in1_features, in2_features=in2_features,
                  out_features=out_features)
        self.in1_features, self.in2_features = in1_features, in2_features
        self.out_features = out_features
        factory = dict(device=device, dtype=dtype, requires_grad=True)
        bound = 1 / math.sqrt(in1_features)
        self.weight = init.uniform_(Tensor.empty(out_features, in1_features, in2_features,
                                                 **factory), -bound, bound)
        self.bias = init.uniform_(Tensor.empty(out_features, **factory), -bound, bound) \
            if bias else None

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return distance.bilinear(x1, x2, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")
