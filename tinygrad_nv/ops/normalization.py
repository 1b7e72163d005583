"""Normalisations beside ops/nn.py's layer, batch and group norm: RMS norm, instance norm and
local response norm (PyTorch's formulas), composed of Tensor ops so that every derivative,
double backward included, comes from theirs; float16 inputs are normalised in float32, as
PyTorch.

>>> F.rms_norm(x, (8,), weight)                     # x / sqrt(mean(x^2) + eps) * weight
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from tinygrad_nv.autograd.autocast_state import autocast_op
from tinygrad_nv.dtype import is_floating
from tinygrad_nv.ops import Exports
from tinygrad_nv.ops._checks import ShapeError
from tinygrad_nv.ops.nn import _update_running, batch_norm, normalized_shape_arg
from tinygrad_nv.ops.reduce import in_accumulation_dtype

if TYPE_CHECKING:
    from tinygrad_nv._tensor import Tensor


@autocast_op
@in_accumulation_dtype
def rms_norm(x: Tensor, normalized_shape: int | Sequence[int], weight: Tensor | None = None,
             eps: float | None = None) -> Tensor:
    """x / sqrt(mean(x^2) + eps) over the trailing `normalized_shape` axes, times weight; eps
    None is the machine epsilon of the dtype it computes in (as PyTorch).

    >>> F.rms_norm(Tensor([[3.0, 4.0]]), (2,))          # [[0.8485, 1.1314]]
    """
    shape = _trailing(x, normalized_shape, "rms_norm")
    if weight is not None and weight.shape != shape:
        raise ShapeError(f"rms_norm: weight must have shape {shape} (normalized_shape), got "
                         f"{tuple(weight.shape)}")
    if not is_floating(x.dtype):
        raise TypeError(f"rms_norm: input must be floating point, got {x.dtype.name}")
    if eps is None:  # of the dtype it computes in (float32 for float16), as PyTorch
        eps = float(x.backend.xp.finfo(x.dtype).eps)
    axes = tuple(range(x.ndim - len(shape), x.ndim))
    out = x * ((x * x).mean(axes, keepdim=True) + eps).rsqrt()
    return out if weight is None else out * weight


@in_accumulation_dtype
def instance_norm(x: Tensor, running_mean: Tensor | None = None,
                  running_var: Tensor | None = None, weight: Tensor | None = None,
                  bias: Tensor | None = None, use_input_stats: bool = True,
                  momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalise each (sample, channel) of x (N, C, ...) over its spatial axes, then scale
    and shift per channel. With use_input_stats the running statistics (if given) are updated
    in place with the batch average of the instances' mean and unbiased variance; without
    it the running ones normalise, as batch_norm in eval.

    >>> F.instance_norm(Tensor.randn(2, 3, 5)).mean(-1)  # ~0 for every sample and channel
    """
    if x.ndim < 2:
        raise ValueError(f"instance_norm: expected an input (N, C, ...), got shape "
                         f"{tuple(x.shape)}")
    c, spatial = x.shape[1], x.shape[2:]
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if t is not None and t.shape != (c,):
            raise ShapeError(f"instance_norm: {name} must have shape ({c},) for an input of "
                             f"shape {tuple(x.shape)}, got {tuple(t.shape)}")
    if not use_input_stats:
        return batch_norm(x, running_mean, running_var, weight, bias, False, momentum, eps)
    count = math.prod(spatial)
    if count == 1:
        raise ValueError(f"instance_norm: expected more than 1 spatial element when using the "
                         f"input's statistics, got input of shape {tuple(x.shape)}")
    axes = tuple(range(2, x.ndim))
    mean = x.mean(axes, keepdim=True)
    centered = x - mean
    var = (centered * centered).mean(axes, keepdim=True)
    if x.shape[0] and (running_mean is not None or running_var is not None):
        means, variances = mean.detach().reshape(-1, c), var.detach().reshape(-1, c)
        _update_running(running_mean, means.mean(0), momentum)
        _update_running(running_var, variances.mean(0) * (count / (count - 1)), momentum)
    out = centered * (var + eps).rsqrt()
    shape = (1, c) + (1,) * len(spatial)
    out = out if weight is None else out * weight.reshape(shape)
    return out if bias is None else out + bias.reshape(shape)


@autocast_op
@in_accumulation_dtype
def local_response_norm(x: Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75,
                        k: float = 1.0) -> Tensor:
    """x / (k + alpha * mean of x^2 over `size` neighbouring channels)^beta, the window
    reaching size // 2 channels before and (size - 1) // 2 after, zeros beyond the edges.

    >>> F.local_response_norm(Tensor.randn(1, 6, 4, 4), size=3)
    """
    if x.ndim < 3:
        raise ValueError(f"local_response_norm: expected a 3-D or higher input (N, C, ...), "
                         f"got shape {tuple(x.shape)}")
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise ValueError(f"local_response_norm: size must be a positive int, got {size!r}")
    c = x.shape[1]
    channel_pads = ((0, 0), (size // 2, (size - 1) // 2)) + ((0, 0),) * (x.ndim - 2)
    padded = (x * x).pad(channel_pads)
    window = padded[:, 0:c]
    for offset in range(1, size):  # size is small (AlexNet's 5): one shifted slice each
        window = window + padded[:, offset:offset + c]
    return x / (window * (alpha / size) + k) ** beta


def _trailing(x: Tensor, normalized_shape: int | Sequence[int], op: str) -> tuple[int, ...]:
    """normalized_shape as a tuple that must equal x's trailing axes."""
    shape = normalized_shape_arg(normalized_shape, op)
    if not shape or len(shape) > x.ndim or x.shape[x.ndim - len(shape):] != shape:
        raise ShapeError(f"{op}: normalized_shape {shape} must match the trailing axes of the "
                         f"input, got input of shape {tuple(x.shape)}")
    return shape


EXPORTS = Exports(functional={"rms_norm": rms_norm, "instance_norm": instance_norm,
                              "local_response_norm": local_response_norm})
