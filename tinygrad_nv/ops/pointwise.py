"""Elementwise functions PyTorch has beside the arithmetic of elementwise.py, composed of
Tensor ops so that their gradients (and double backward) come with them: one-sided clamps,
fused multiply/divide-adds, NaN-ignoring max/min, x * log(y), the sign bit, degrees and
radians, float_power, ldexp; and without gradient (as PyTorch's): frexp, nextafter,
heaviside.

>>> Tensor([1.0, 2.0]).addcmul(Tensor([3.0, 4.0]), Tensor([2.0, 2.0]), value=0.5)   # [4, 6]
"""

from __future__ import annotations

import collections
import math
from typing import TYPE_CHECKING, Any

from tinygrad_nv.autograd.function import constant
from tinygrad_nv.dtype import dtypes
from tinygrad_nv.ops import Exports
from tinygrad_nv.ops._checks import is_scalar, is_tensor
from tinygrad_nv.ops.elementwise import clip, operands
from tinygrad_nv.ops.logic import isnan
from tinygrad_nv.ops.unary import abs as absolute
from tinygrad_nv.ops.unary import floating, sign

if TYPE_CHECKING:
    from tinygrad_nv._tensor import Tensor

FrexpResult = collections.namedtuple("frexp", ("mantissa", "exponent"))  # torch.return_types


def clamp_min(x: Tensor, min: Any) -> Tensor:  # noqa: A002
    """max(x, min) (a number or a tensor that broadcasts), as clamp(min=min)."""
    return clip(x, min, None)


def clamp_max(x: Tensor, max: Any) -> Tensor:  # noqa: A002
    """min(x, max) (a number or a tensor that broadcasts), as clamp(max=max)."""
    return clip(x, None, max)


def _three(op: str, tensor1: Any, tensor2: Any, value: Any) -> None:
    if not is_tensor(tensor1) or not is_tensor(tensor2):
        raise TypeError(f"{op}: tensor1 and tensor2 must be Tensors, got "
                        f"{type(tensor1).__name__} and {type(tensor2).__name__}")
    if not is_scalar(value):
        raise TypeError(f"{op}: value must be a number, got {type(value).__name__}")


def addcmul(x: Tensor, tensor1: Tensor, tensor2: Tensor, *, value: Any = 1) -> Tensor:
    """x + value * tensor1 * tensor2, the three broadcast.

    >>> Tensor([1.0]).addcmul(Tensor([2.0]), Tensor([3.0]), value=2)     # [13.0]
    """
    _three("addcmul", tensor1, tensor2, value)
    return x + value * (tensor1 * tensor2)


def addcdiv(x: Tensor, tensor1: Tensor, tensor2: Tensor, *, value: Any = 1) -> Tensor:
    """x + value * tensor1 / tensor2, the three broadcast; integer tensor1 and tensor2 are
    refused, as PyTorch (its old integer division is gone).

    >>> Tensor([1.0]).addcdiv(Tensor([3.0]), Tensor([2.0]), value=2)     # [4.0]
    """
    _three("addcdiv", tensor1, tensor2, value)
    if not dtypes.is_float(tensor1.dtype) and not dtypes.is_float(tensor2.dtype):
        raise RuntimeError(f"addcdiv: integer division is not supported (tensor1 "
                           f"{tensor1.dtype.name}, tensor2 {tensor2.dtype.name}); use "
                           "x + value * tensor1 / tensor2 or cast them to float")
    return x + value * (tensor1 / tensor2)


def true_divide(x: Tensor, other: Any) -> Tensor:
    """x / other, true division (integers give float32), as torch.true_divide."""
    return x / other


def _nan_ignoring(x: Tensor, other: Any, op: str, largest: bool) -> Tensor:
    if not is_tensor(other):
        raise TypeError(f"{op}: other must be a Tensor, got {type(other).__name__}")
    a, b = operands(x, other, op)
    # x's side at ties and where other is NaN: the whole gradient goes where the value came from
    take_a = ((a >= b) if largest else (a <= b)) | isnan(b)
    return take_a.where(a, b)


def fmax(x: Tensor, other: Tensor) -> Tensor:
    """Elementwise max that ignores NaN (NaN only where both are NaN), broadcasting; at ties
    the gradient goes to x, as PyTorch.

    >>> Tensor([1.0, float("nan")]).fmax(Tensor([float("nan"), 2.0]))     # [1.0, 2.0]
    """
    return _nan_ignoring(x, other, "fmax", largest=True)


def fmin(x: Tensor, other: Tensor) -> Tensor:
    """Elementwise min that ignores NaN (NaN only where both are NaN), broadcasting; at ties
    the gradient goes to x, as PyTorch."""
    return _nan_ignoring(x, other, "fmin", largest=False)


def xlogy(x: Any, other: Any) -> Tensor:
    """x * log(other), 0 where x is 0 (unless other is NaN), broadcasting; integers give
    float32. x or other may be a number. The gradient to x is log(other) (0 where x is 0 and
    other <= 0), as PyTorch's.

    >>> xlogy(Tensor([0.0, 2.0]), Tensor([0.0, 3.0]))      # [0.0, 2.1972]
    """
    if not is_tensor(x):
        x, other = operands(other, x, "xlogy", reverse=True, floating=True)
    else:
        x, other = operands(x, other, "xlogy", floating=True)
    # 0 where x is 0 and x * log(other) is not a number (other <= 0 or inf), with log(1) in the
    # unused branch there (0 * inf would be NaN in value or gradient); elsewhere at x = 0 the
    # value is 0 * log(other) = 0 and x's gradient log(other), as PyTorch's
    masked = (x == 0) & ((other <= 0) | (other == float("inf")))
    return masked.where(0.0, x * masked.where(1.0, other).log())


def signbit(x: Tensor) -> Tensor:
    """Where the sign bit is set (negative numbers, -0.0 and NaNs with the bit), a bool tensor
    without gradient."""
    if dtypes.is_float(x.dtype):
        return constant(lambda xp, a: xp.signbit(a), x)
    return constant(lambda xp, a: a < 0, x)


def deg2rad(x: Tensor) -> Tensor:
    """Degrees to radians, x * pi / 180 (integers give float32; bool is refused, as PyTorch).

    >>> Tensor([180.0]).deg2rad()      # [3.1416]
    """
    return _not_bool(x, "deg2rad") * (math.pi / 180)


def rad2deg(x: Tensor) -> Tensor:
    """Radians to degrees, x * 180 / pi (integers give float32; bool is refused)."""
    return _not_bool(x, "rad2deg") * (180 / math.pi)


def _not_bool(x: Tensor, op: str) -> Tensor:
    if x.dtype == dtypes.bool:
        raise RuntimeError(f"{op}: is not supported for bool tensors")
    return floating(x)


def float_power(x: Any, exponent: Any) -> Tensor:
    """x ** exponent computed in float64 (the result is float64 whatever the inputs), as
    torch.float_power; x or exponent may be a number.

    >>> Tensor([2, 3]).float_power(2)      # [4.0, 9.0] float64
    """
    if not is_tensor(x):
        return exponent.double().__rpow__(x)
    return x.double() ** (exponent.double() if is_tensor(exponent) else exponent)


def ldexp(x: Tensor, other: Any) -> Tensor:
    """x * 2 ** other, broadcasting (integers give float32; an integer `other` keeps x's float
    dtype, and the scaling is exact), as torch.ldexp; differentiable in x and a float other.

    >>> Tensor([1.0]).ldexp(Tensor([3]))      # [8.0]
    """
    x = floating(x)
    if is_tensor(other) and not dtypes.is_float(other.dtype):
        scale = constant(lambda xp, e: xp.ldexp(xp.ones((), x.dtype), e.astype("int32")), other)
        return x * scale
    x, other = operands(x, other, "ldexp", floating=True)
    return x * other.__rpow__(2.0)


def frexp(x: Tensor) -> tuple:
    """(mantissa, exponent) with x = mantissa * 2 ** exponent, |mantissa| in [0.5, 1) (0 for
    0), exponent int32, as torch.frexp; floating tensors only. No gradient.

    >>> Tensor([8.0]).frexp()        # mantissa [0.5], exponent [4]
    """
    if not dtypes.is_float(x.dtype):
        raise RuntimeError(f"frexp: only supports floating-point dtypes, got {x.dtype.name}")
    mantissa = constant(lambda xp, a: xp.frexp(a)[0], x)
    exponent = constant(lambda xp, a: xp.frexp(a)[1].astype("int32"), x)
    return FrexpResult(mantissa, exponent)


def nextafter(x: Tensor, other: Any) -> Tensor:
    """The next floating-point value after x towards other, broadcasting, as torch.nextafter;
    floating tensors only. No gradient."""
    x, other = operands(x, other, "nextafter")
    if not dtypes.is_float(x.dtype):
        raise RuntimeError(f"nextafter: only supports floating-point dtypes, got {x.dtype.name}")
    return constant(lambda xp, a, b: xp.nextafter(a, b), x, other)


def heaviside(x: Tensor, values: Tensor) -> Tensor:
    """The step function: 0 where x < 0, 1 where x > 0, `values` (broadcast) where x == 0;
    x and values of one dtype, as torch.heaviside. No gradient."""
    if not is_tensor(values):
        raise TypeError(f"heaviside: values must be a Tensor, got {type(values).__name__}")
    if values.dtype != x.dtype:
        raise RuntimeError(f"heaviside: is not yet implemented for tensors with different "
                           f"dtypes ({x.dtype.name} and {values.dtype.name})")
    x, values = operands(x, values, "heaviside")
    return constant(lambda xp, a, v: xp.where(a == 0, v, a > 0).astype(a.dtype), x, values)


# ---------------------------------------------------------------------- public names
_PUBLIC = {  # Tensor methods and package functions (torch.<name>)
    "clamp_min": clamp_min, "clamp_max": clamp_max, "addcmul": addcmul, "addcdiv": addcdiv,
    "true_divide": true_divide, "absolute": absolute, "fmax": fmax, "fmin": fmin,
    "xlogy": xlogy, "signbit": signbit, "deg2rad": deg2rad, "rad2deg": rad2deg,
    "float_power": float_power, "ldexp": ldexp, "frexp": frexp, "nextafter": nextafter,
    "heaviside": heaviside, "sgn": sign,  # sgn: sign, on real dtypes
}
EXPORTS = Exports(methods=_PUBLIC, functions=_PUBLIC)
