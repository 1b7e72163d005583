"""Normalisation layers beside layers.py's LayerNorm, GroupNorm and BatchNorm: RMSNorm,
InstanceNorm1d/2d/3d and LocalResponseNorm, with PyTorch's arguments, defaults, parameter
and buffer names.

>>> norm = nn.InstanceNorm2d(3, affine=True)
>>> y = norm(Tensor.randn(2, 3, 8, 8))
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

from tinygrad_nv._tensor import Tensor
from tinygrad_nv.nn.layers import _normalized_shape, _NormBase, _positive
from tinygrad_nv.nn.module import Module
from tinygrad_nv.ops.normalization import instance_norm, local_response_norm, rms_norm


class RMSNorm(Module):
    """x / sqrt(mean(x^2) + eps) over the trailing `normalized_shape` axes, times a learned
    weight (ones at first); eps None is the machine epsilon of the input's dtype.

    >>> RMSNorm(8)(Tensor.randn(2, 8))
    """

    def __init__(self, normalized_shape: int | Sequence[int], eps: float | None = None,
                 elementwise_affine: bool = True, device: Any = None, dtype: Any = None):
        super().__init__()
        shape = _normalized_shape("RMSNorm", normalized_shape)
        self.normalized_shape, self.eps = shape, eps
        self.elementwise_affine = elementwise_affine
        self.weight = Tensor.ones(*shape, device=device, dtype=dtype, requires_grad=True) \
            if elementwise_affine else None

    def forward(self, x: Tensor) -> Tensor:
        return rms_norm(x, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")


class _InstanceNorm(_NormBase):
    """Per-sample, per-channel normalisation over the spatial axes; optional per-channel
    affine (affine=True) and running statistics (track_running_stats=True: updated in
    training, used in eval)."""

    spatial_dims = 1

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = False, track_running_stats: bool = False, device: Any = None,
                 dtype: Any = None):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device,
                         dtype)

    def forward(self, x: Tensor) -> Tensor:
        name, unbatched = type(self).__name__, self.spatial_dims + 1
        if x.ndim not in (unbatched, unbatched + 1):
            raise ValueError(f"{name}: expected a {unbatched}-D (unbatched) or "
                             f"{unbatched + 1}-D input (N, C, ...), got shape {tuple(x.shape)}")
        channel_axis = x.ndim - unbatched
        if x.shape[channel_axis] != self.num_features:
            message = (f"{name}: expected the input's size at dim={channel_axis} to match "
                       f"num_features ({self.num_features}), got shape {tuple(x.shape)}")
            if self.affine:
                raise ValueError(message)
            warnings.warn(message + " (num_features is not used because affine=False)",
                          stacklevel=2)
        batch = x.unsqueeze(0) if x.ndim == unbatched else x
        out = instance_norm(batch, self.running_mean, self.running_var, self.weight,
                            self.bias, self.training or not self.track_running_stats,
                            self.momentum if self.momentum is not None else 0.0, self.eps)
        return out[0] if x.ndim == unbatched else out


class InstanceNorm1d(_InstanceNorm):
    """Instance norm of (N, C, L) or unbatched (C, L) inputs."""

    spatial_dims = 1


class InstanceNorm2d(_InstanceNorm):
    """Instance norm of (N, C, H, W) or unbatched (C, H, W) inputs."""

    spatial_dims = 2


class InstanceNorm3d(_InstanceNorm):
    """Instance norm of (N, C, D, H, W) or unbatched (C, D, H, W) inputs."""

    spatial_dims = 3


class LocalResponseNorm(Module):
    """x / (k + alpha * mean of x^2 over `size` neighbouring channels)^beta (AlexNet's
    normalisation across channels).

    >>> LocalResponseNorm(5)(Tensor.randn(1, 8, 4, 4))
    """

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0):
        super().__init__()
        _positive("LocalResponseNorm", size=size)
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, x: Tensor) -> Tensor:
        return local_response_norm(x, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"
