"""Dropout layers: Dropout1d/2d/3d (whole channels), AlphaDropout and FeatureAlphaDropout
(for SELU networks), with PyTorch's arguments, and their base _DropoutNd (layers.py's Dropout
is one too); the identity in eval mode.

>>> drop = nn.Dropout2d(0.1)
>>> y = drop(Tensor.randn(8, 16, 4, 4))       # training: each (sample, channel) kept or zeroed
"""

from __future__ import annotations

from tinygrad_nv._tensor import Tensor
from tinygrad_nv.nn import functional as F
from tinygrad_nv.nn.module import Module


class _DropoutNd(Module):
    """p (the probability to drop) and inplace: as PyTorch, Dropout and Dropout1d/2d/3d write
    their result into the input in training (and return it); the alpha dropouts ignore it."""

    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"{type(self).__name__}: dropout probability has to be between 0 "
                             f"and 1, but got {p}")
        self.p, self.inplace = p, inplace

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout1d(_DropoutNd):
    """Channel dropout of (N, C, L) or (C, L) inputs."""

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout1d(x, self.p, self.training, inplace=self.inplace)


class Dropout2d(_DropoutNd):
    """Channel dropout of (N, C, H, W) inputs (3-D ones read as (N, C, L), as PyTorch)."""

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout2d(x, self.p, self.training, inplace=self.inplace)


class Dropout3d(_DropoutNd):
    """Channel dropout of (N, C, D, H, W) or (C, D, H, W) inputs."""

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout3d(x, self.p, self.training, inplace=self.inplace)


class AlphaDropout(_DropoutNd):
    """Dropout that keeps a SELU network's zero mean and unit variance."""

    def forward(self, x: Tensor) -> Tensor:
        return F.alpha_dropout(x, self.p, self.training)  # (inplace unused, as PyTorch)


class FeatureAlphaDropout(_DropoutNd):
    """AlphaDropout with one draw per (sample, channel)."""

    def forward(self, x: Tensor) -> Tensor:
        return F.feature_alpha_dropout(x, self.p, self.training)  # (as PyTorch)
