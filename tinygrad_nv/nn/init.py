"""Weight initialisation, in place on `._data`, with PyTorch's names and formulas. Samples come
from the tensor's device generator, so `Tensor.manual_seed(n)` makes them reproducible.

>>> w = Tensor.empty(64, 32)
>>> nn.init.kaiming_uniform_(w, nonlinearity="relu")    # U(-b, b), b = sqrt(2) * sqrt(3 / 32)
"""

from __future__ import annotations

import math

from tinygrad_nv._tensor import Tensor
from tinygrad_nv.autograd import no_grad
from tinygrad_nv.backend import get_backend
from tinygrad_nv.dtype import dtypes

_LINEAR = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
           "conv_transpose3d", "sigmoid")


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity (PyTorch's table)."""
    if nonlinearity in _LINEAR:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r} (valid: "
                     f"{', '.join(_LINEAR)}, tanh, relu, leaky_relu, selu)")


def calculate_fan_in_and_fan_out(t: Tensor) -> tuple[int, int]:
    """fan_in = shape[1] * receptive field, fan_out = shape[0] * receptive field."""
    if t.ndim < 2:
        raise ValueError(f"init: fan in and fan out need a tensor with at least 2 dimensions, "
                         f"got shape {tuple(t.shape)}")
    receptive = math.prod(t.shape[2:])
    return t.shape[1] * receptive, t.shape[0] * receptive


def _fan(t: Tensor, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"init: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = calculate_fan_in_and_fan_out(t)
    return fan_in if mode == "fan_in" else fan_out


def _fill(t: Tensor, values: Tensor) -> Tensor:
    with no_grad():  # an in-place change: bumps the version, on t's device
        return t.copy_(values)


def uniform_(t: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    """Fill with samples of U(a, b)."""
    return _fill(t, Tensor.uniform(*t.shape, low=a, high=b, dtype=t.dtype, device=t.device))


def normal_(t: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    """Fill with samples of N(mean, std^2)."""
    return _fill(t, Tensor.randn(*t.shape, dtype=t.dtype, device=t.device) * std + mean)


def constant_(t: Tensor, value: float) -> Tensor:
    t._data[...] = value
    t._bump_version()
    return t


def zeros_(t: Tensor) -> Tensor:
    return constant_(t, 0.0)


def ones_(t: Tensor) -> Tensor:
    return constant_(t, 1.0)


def xavier_uniform_(t: Tensor, gain: float = 1.0) -> Tensor:
    """U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio)."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(t)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(t, -bound, bound)


def xavier_normal_(t: Tensor, gain: float = 1.0) -> Tensor:
    """N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(t)
    return normal_(t, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))


def kaiming_uniform_(t: Tensor, a: float = 0.0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu") -> Tensor:
    """U(-b, b) with b = gain * sqrt(3 / fan) (He et al.); `a` is leaky_relu's slope."""
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / _fan(t, mode))
    return uniform_(t, -bound, bound)


def kaiming_normal_(t: Tensor, a: float = 0.0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu") -> Tensor:
    """N(0, std^2) with std = gain / sqrt(fan)."""
    return normal_(t, 0.0, calculate_gain(nonlinearity, a) / math.sqrt(_fan(t, mode)))


def trunc_normal_(t: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0,
                  b: float = 2.0) -> Tensor:
    """Fill with samples of N(mean, std^2) truncated to [a, b] (values outside are drawn
    again, so the law is PyTorch's; its stream of numbers is not)."""
    if not a < b:
        raise ValueError(f"trunc_normal_: expected a < b, got a={a}, b={b}")
    xp = get_backend("cpu").xp  # drawn and fixed on the host, then moved to t's device
    values = (Tensor.randn(*t.shape, dtype=dtypes.float64, device="cpu") * std + mean).numpy()
    outside = (values < a) | (values > b)
    for _ in range(1000):  # a tail so thin that nothing comes back: clamp, as PyTorch's
        if not outside.any():
            break
        n = int(outside.sum())
        values[outside] = (Tensor.randn(n, dtype=dtypes.float64, device="cpu") * std
                           + mean).numpy()
        outside = (values < a) | (values > b)
    return _fill(t, Tensor(xp.clip(values, a, b), dtype=t.dtype, device=t.device))


def orthogonal_(t: Tensor, gain: float = 1.0) -> Tensor:
    """Fill with a (semi-)orthogonal matrix times `gain`, the trailing axes flattened, as
    PyTorch's (Saxe et al.): Q of the QR decomposition of a normal matrix, signs fixed by
    R's diagonal."""
    if t.ndim < 2:
        raise ValueError(f"orthogonal_: only tensors with 2 or more dimensions are "
                         f"supported, got shape {tuple(t.shape)}")
    if t.numel() == 0:
        return t
    rows = t.shape[0]
    cols = t.numel() // rows
    flat = Tensor.randn(rows, cols, dtype=dtypes.float64, device="cpu").numpy()
    if rows < cols:
        flat = flat.T
    xp = get_backend("cpu").xp
    q, r = xp.linalg.qr(flat)
    q *= xp.sign(xp.diag(r))
    if rows < cols:
        q = q.T
    return _fill(t, Tensor(gain * q.reshape(t.shape), dtype=t.dtype, device=t.device))


def eye_(t: Tensor) -> Tensor:
    """Fill a 2-D tensor with the identity matrix (ones on the diagonal, as torch.eye)."""
    if t.ndim != 2:
        raise ValueError(f"eye_: only 2-dimensional tensors are supported, got shape "
                         f"{tuple(t.shape)}")
    return _fill(t, Tensor.eye(*t.shape, dtype=t.dtype, device=t.device))


def dirac_(t: Tensor, groups: int = 1) -> Tensor:
    """Fill a 3-, 4- or 5-D convolution weight with the Dirac delta: the layer passes its
    input through (per group: output channel i of a group takes input channel i)."""
    if t.ndim not in (3, 4, 5):
        raise ValueError(f"dirac_: only 3, 4 or 5-dimensional tensors are supported, got "
                         f"shape {tuple(t.shape)}")
    out_per_group = t.shape[0] // groups
    if t.shape[0] % groups:
        raise ValueError(f"dirac_: dim 0 ({t.shape[0]}) must be divisible by groups {groups}")
    values = get_backend("cpu").xp.zeros(t.shape)
    centre = tuple(s // 2 for s in t.shape[2:])
    for g in range(groups):
        for i in range(min(out_per_group, t.shape[1])):
            values[(g * out_per_group + i, i, *centre)] = 1.0
    return _fill(t, Tensor(values, dtype=t.dtype, device=t.device))
