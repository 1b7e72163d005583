"""Dropout beside ops/nn.py's elementwise one: channel-wise dropout (dropout1d, dropout2d,
dropout3d: whole channels zeroed) and alpha dropout (SELU's mean and variance kept), with
PyTorch's formulas. The random mask is drawn on the input's device and enters as a constant;
the gradient is the mask's scale. `inplace=True` writes the result into the input.

>>> F.dropout2d(x, p=0.2)          # x (N, C, H, W): each (n, c) plane kept or zeroed
"""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING

from tinygrad_nv.autograd.function import constant
from tinygrad_nv.ops import Exports, with_inplace
from tinygrad_nv.ops._checks import number_arg

if TYPE_CHECKING:
    from tinygrad_nv._tensor import Tensor

_SELU_ALPHA = 1.7580993408473766  # -SELU's saturation value: scale * alpha


def dropout1d(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Zero each channel of x (N, C, L) or (C, L) with probability p, scale the rest by
    1 / (1 - p) (training only)."""
    return _channels(x, p, training, "dropout1d", 1)


def dropout2d(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Zero each channel of x (N, C, H, W) with probability p, scale the rest by 1 / (1 - p)
    (training only). As PyTorch, a 3-D input is read as (N, C, L), with a warning."""
    _check_p(p, "dropout2d")
    if x.ndim not in (3, 4):
        warnings.warn(f"dropout2d: received a {x.ndim}-D input; dropout2d expects 3-D or 4-D "
                      "inputs (N, C, H, W), use dropout for others", stacklevel=2)
    if x.ndim == 3:
        warnings.warn("dropout2d: received a 3-D input and reads it as (N, C, L) (channel-wise "
                      "1-D dropout), as PyTorch; use dropout1d for that", stacklevel=2)
    return _feature_dropout(x, p, training)


def dropout3d(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Zero each channel of x (N, C, D, H, W) or (C, D, H, W) with probability p, scale the
    rest by 1 / (1 - p) (training only)."""
    return _channels(x, p, training, "dropout3d", 3)


def alpha_dropout(x: Tensor, p: float = 0.5, training: bool = False) -> Tensor:
    """Set each element with probability p to SELU's saturation value, then scale and shift
    so that a zero-mean, unit-variance input keeps its mean and variance (training only;
    note PyTorch's default training=False here)."""
    _check_p(p, "alpha_dropout")
    return _alpha(x, p, training, feature=False)


def feature_alpha_dropout(x: Tensor, p: float = 0.5, training: bool = False) -> Tensor:
    """alpha_dropout with one draw per channel of x (N, C, ...)."""
    _check_p(p, "feature_alpha_dropout")
    return _alpha(x, p, training, feature=True)


def _channels(x: Tensor, p: float, training: bool, op: str, spatial: int) -> Tensor:
    """Channel dropout of a batched (N, C, *spatial) or unbatched (C, *spatial) input."""
    _check_p(p, op)
    if x.ndim not in (spatial + 1, spatial + 2):
        raise RuntimeError(f"{op}: expected a {spatial + 1}-D or {spatial + 2}-D input (an "
                           f"optional batch axis, channels, {spatial} spatial), got shape "
                           f"{tuple(x.shape)}")
    if x.ndim == spatial + 1:
        return _feature_dropout(x.unsqueeze(0), p, training)[0]
    return _feature_dropout(x, p, training)


def _feature_dropout(x: Tensor, p: float, training: bool) -> Tensor:
    if not training or p == 0.0 or x.numel() == 0:
        return x
    keep = _keep(x, p, feature=True)
    return x * keep if p == 1.0 else x * (keep * (1.0 / (1.0 - p)))


def _alpha(x: Tensor, p: float, training: bool, feature: bool) -> Tensor:
    if not training or p == 0.0 or x.numel() == 0:
        return x
    if p == 1.0:
        return x * 0.0
    a = 1.0 / math.sqrt((_SELU_ALPHA * _SELU_ALPHA * p + 1.0) * (1.0 - p))
    keep = _keep(x, p, feature)
    # PyTorch's: x * keep * a + (keep - 1) * alpha * a + alpha * a * p
    return x * (keep * a) + (keep * (_SELU_ALPHA * a) + _SELU_ALPHA * a * (p - 1.0))


def _keep(x: Tensor, p: float, feature: bool) -> Tensor:
    """1 where kept (probability 1 - p), 0 where dropped, in x's dtype: one draw per element,
    or per (sample, channel) with `feature`."""
    if feature and x.ndim < 2:
        raise RuntimeError(f"feature dropout: expected an input with a channel axis (N, C, "
                           f"...), got shape {tuple(x.shape)}")
    shape = (*x.shape[:2], *(1,) * (x.ndim - 2)) if feature else x.shape
    rng = x.backend.rng
    return constant(lambda xp, a: (rng.random(shape) >= p).astype(a.dtype), x)


def _check_p(p: float, op: str) -> None:
    if not 0.0 <= number_arg(p, op, "p") <= 1.0:
        raise ValueError(f"{op}: dropout probability has to be between 0 and 1, but got {p}")


# nn.functional's forms take PyTorch's `inplace=False` too (ops/__init__.with_inplace)
EXPORTS = Exports(functional={fn.__name__: with_inplace(fn) for fn in (
    dropout1d, dropout2d, dropout3d, alpha_dropout, feature_alpha_dropout)})
