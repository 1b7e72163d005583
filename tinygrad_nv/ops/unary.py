"""Unary math (exp and log families, trigonometric and hyperbolic functions, erf, rounding,
abs, sign) and the float-valued binary functions atan2, logaddexp, copysign, hypot, lerp.
Float-valued functions promote integer and bool inputs to float32; rounding keeps integers.
Backward passes are Tensor operations, so they differentiate again."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from tinygrad_nv.autograd import Function
from tinygrad_nv.autograd.autocast_state import autocast_op
from tinygrad_nv.autograd.function import constant
from tinygrad_nv.dtype import dtypes
from tinygrad_nv.ops import Exports
from tinygrad_nv.ops._checks import broadcast_shapes, is_int, is_scalar
from tinygrad_nv.ops.elementwise import operands, times, unbroadcast

if TYPE_CHECKING:
    from tinygrad_nv._tensor import Tensor


class Exp(Function):
    saved_inputs = ()  # backward reads the output, not the input
    save_output = True

    def forward(self, x):
        return self.xp.exp(x)

    def backward(self, g):
        return times(g, self.output())


class Log(Function):
    def forward(self, x):
        return self.xp.log(x)

    def backward(self, g):
        return g / self.parents[0]


class Sqrt(Function):
    saved_inputs = ()  # backward reads the output, not the input
    save_output = True

    def forward(self, x):
        return self.xp.sqrt(x)

    def backward(self, g):
        return g / (2 * self.output())


class Sin(Function):
    def forward(self, x):
        return self.xp.sin(x)

    def backward(self, g):
        return g * self.parents[0].cos()


class Cos(Function):
    def forward(self, x):
        return self.xp.cos(x)

    def backward(self, g):
        return -g * self.parents[0].sin()


class Reciprocal(Function):
    saved_inputs = ()  # backward reads the output, not the input
    save_output = True

    def forward(self, x):
        return 1 / x

    def backward(self, g):
        out = self.output()
        return -g * out * out


class Abs(Function):
    def forward(self, x):
        return self.xp.abs(x)

    def backward(self, g):
        return g * self.parents[0].sign()


class Exp2(Function):
    save_output = True

    def forward(self, x):
        return self.xp.exp2(x)

    def backward(self, g):
        return g * self.output() * math.log(2.0)


class Expm1(Function):
    save_output = True

    def forward(self, x):
        return self.xp.expm1(x)

    def backward(self, g):
        return g * (self.output() + 1)


class Log2(Function):
    def forward(self, x):
        return self.xp.log2(x)

    def backward(self, g):
        return g / (self.parents[0] * math.log(2.0))


class Log10(Function):
    def forward(self, x):
        return self.xp.log10(x)

    def backward(self, g):
        return g / (self.parents[0] * math.log(10.0))


class Log1p(Function):
    def forward(self, x):
        return self.xp.log1p(x)

    def backward(self, g):
        return g / (self.parents[0] + 1)


class Tan(Function):
    save_output = True

    def forward(self, x):
        return self.xp.tan(x)

    def backward(self, g):
        out = self.output()
        return g * (out * out + 1)


class Asin(Function):
    def forward(self, x):
        return self.xp.arcsin(x)

    def backward(self, g):
        x = self.parents[0]
        return g * (1 - x * x).rsqrt()


class Acos(Function):
    def forward(self, x):
        return self.xp.arccos(x)

    def backward(self, g):
        x = self.parents[0]
        return -g * (1 - x * x).rsqrt()


class Atan(Function):
    def forward(self, x):
        return self.xp.arctan(x)

    def backward(self, g):
        x = self.parents[0]
        return g / (x * x + 1)


class Sinh(Function):
    def forward(self, x):
        return self.xp.sinh(x)

    def backward(self, g):
        return g * self.parents[0].cosh()


class Cosh(Function):
    def forward(self, x):
        return self.xp.cosh(x)

    def backward(self, g):
        return g * self.parents[0].sinh()


class Asinh(Function):
    def forward(self, x):
        return self.xp.arcsinh(x)

    def backward(self, g):
        x = self.parents[0]
        return g * (x * x + 1).rsqrt()


class Acosh(Function):
    def forward(self, x):
        return self.xp.arccosh(x)

    def backward(self, g):
        x = self.parents[0]
        return g * ((x - 1) * (x + 1)).rsqrt()


class Atanh(Function):
    def forward(self, x):
        return self.xp.arctanh(x)

    def backward(self, g):
        x = self.parents[0]
        return g / (1 - x * x)


class Erf(Function):
    def forward(self, x):
        return self.kernels.erf(x)

    def backward(self, g):
        x = self.parents[0]
        return g * (-x * x).exp() * (2 / math.sqrt(math.pi))


class Erfc(Function):
    """1 - erf(x), accurate in the upper tail too (a kernel of its own, not 1 - erf)."""

    def forward(self, x):
        return self.kernels.erfc(x)

    def backward(self, g):
        x = self.parents[0]
        return g * (-x * x).exp() * (-2 / math.sqrt(math.pi))


class PiecewiseConstant(Function):
    """A function that is constant between jumps (sign, floor, ...): its gradient is zero
    everywhere, as in PyTorch."""

    def backward(self, g):
        return g * 0


class Sign(PiecewiseConstant):
    def forward(self, x):
        if x.dtype == bool:  # as PyTorch: a bool is its own sign
            return x.copy()
        out = self.xp.sign(x)
        return self.xp.where(out == out, out, 0)  # NaN gives 0, as PyTorch (NumPy: NaN)


class Floor(PiecewiseConstant):
    def forward(self, x):
        return self.xp.floor(x)


class Ceil(PiecewiseConstant):
    def forward(self, x):
        return self.xp.ceil(x)


class Trunc(PiecewiseConstant):
    def forward(self, x):
        return self.xp.trunc(x)


class Round(PiecewiseConstant):
    """Round half to even at `decimals` decimal places (negative: tens, hundreds, ...)."""

    def forward(self, x, decimals: int):
        return self.xp.round(x, decimals)


class Atan2(Function):
    """atan2(a, b), the angle of the point (b, a); the gradient at the origin is 0."""

    def forward(self, a, b):
        return self.xp.arctan2(a, b)

    def backward(self, g):
        a, b = self.parents
        r2 = a * a + b * b
        origin = r2 == 0
        scale = origin.where(0.0, g / origin.where(1.0, r2))
        ga = unbroadcast(scale * b, a.shape) if self.needs_input_grad[0] else None
        gb = unbroadcast(-scale * a, b.shape) if self.needs_input_grad[1] else None
        return ga, gb


class LogAddExp(Function):
    """log(exp(a) + exp(b)) without overflow."""

    def forward(self, a, b):
        return self.xp.logaddexp(a, b)

    def backward(self, g):
        a, b = self.parents
        ga = unbroadcast(g / ((b - a).exp() + 1), a.shape) if self.needs_input_grad[0] else None
        gb = unbroadcast(g / ((a - b).exp() + 1), b.shape) if self.needs_input_grad[1] else None
        return ga, gb


class LogAddExp2(Function):
    """log2(2**a + 2**b) without overflow."""

    def forward(self, a, b):
        return self.xp.logaddexp2(a, b)

    def backward(self, g):
        a, b = self.parents
        ga = unbroadcast(g / ((b - a).exp2() + 1), a.shape) if self.needs_input_grad[0] else None
        gb = unbroadcast(g / ((a - b).exp2() + 1), b.shape) if self.needs_input_grad[1] else None
        return ga, gb


class CopySign(Function):
    """|a| with the sign of b; no gradient flows to b, and none to a where a == 0."""

    save_output = True

    def forward(self, a, b):
        return self.xp.copysign(a, b)

    def backward(self, g):  # PyTorch's output / a (0 where a == 0), without dividing
        a, b = self.parents
        ratio = self.output().sign() * a.sign()
        return unbroadcast(g * ratio, a.shape), unbroadcast(g * 0, b.shape)


class Hypot(Function):
    """sqrt(a**2 + b**2) without overflow."""

    save_output = True

    def forward(self, a, b):
        return self.xp.hypot(a, b)

    def backward(self, g):
        a, b = self.parents
        scale = g / self.output()
        ga = unbroadcast(scale * a, a.shape) if self.needs_input_grad[0] else None
        gb = unbroadcast(scale * b, b.shape) if self.needs_input_grad[1] else None
        return ga, gb


def floating(x: Tensor) -> Tensor:
    """Integer/bool tensors promoted to float32 for float-valued functions; floats as they are."""
    return x if dtypes.is_float(x.dtype) else x.cast(dtypes.default_float)


def abs(x: Tensor) -> Tensor:
    """|x|; the gradient at 0 is 0."""
    return Abs.apply(x)


@autocast_op
def exp(x: Tensor) -> Tensor:
    """e ** x (integers are promoted to float32, as for every float-valued function)."""
    return Exp.apply(floating(x))


@autocast_op
def log(x: Tensor) -> Tensor:
    """The natural logarithm."""
    return Log.apply(floating(x))


def sqrt(x: Tensor) -> Tensor:
    """The square root."""
    return Sqrt.apply(floating(x))


@autocast_op
def rsqrt(x: Tensor) -> Tensor:
    """1 / sqrt(x)."""
    return reciprocal(sqrt(x))


def sin(x: Tensor) -> Tensor:
    """The sine."""
    return Sin.apply(floating(x))


def cos(x: Tensor) -> Tensor:
    """The cosine."""
    return Cos.apply(floating(x))


@autocast_op
def reciprocal(x: Tensor) -> Tensor:
    """1 / x."""
    return Reciprocal.apply(floating(x))


def square(x: Tensor) -> Tensor:
    """x * x; bools give int64, as torch.square (pow(x, 2))."""
    x = x.cast(dtypes.int64) if x.dtype == dtypes.bool else x
    return x * x


def sign(x: Tensor) -> Tensor:
    """-1, 0 or 1; the gradient is 0."""
    return Sign.apply(x)


def exp2(x: Tensor) -> Tensor:
    """2 ** x."""
    return Exp2.apply(floating(x))


@autocast_op
def expm1(x: Tensor) -> Tensor:
    """exp(x) - 1, accurate near 0."""
    return Expm1.apply(floating(x))


@autocast_op
def log2(x: Tensor) -> Tensor:
    """The base-2 logarithm."""
    return Log2.apply(floating(x))


@autocast_op
def log10(x: Tensor) -> Tensor:
    """The base-10 logarithm."""
    return Log10.apply(floating(x))


@autocast_op
def log1p(x: Tensor) -> Tensor:
    """log(1 + x), accurate near 0."""
    return Log1p.apply(floating(x))


@autocast_op
def tan(x: Tensor) -> Tensor:
    """The tangent."""
    return Tan.apply(floating(x))


@autocast_op
def asin(x: Tensor) -> Tensor:
    """The inverse sine (NaN outside [-1, 1])."""
    return Asin.apply(floating(x))


@autocast_op
def acos(x: Tensor) -> Tensor:
    """The inverse cosine (NaN outside [-1, 1])."""
    return Acos.apply(floating(x))


def atan(x: Tensor) -> Tensor:
    """The inverse tangent."""
    return Atan.apply(floating(x))


@autocast_op
def sinh(x: Tensor) -> Tensor:
    """The hyperbolic sine."""
    return Sinh.apply(floating(x))


@autocast_op
def cosh(x: Tensor) -> Tensor:
    """The hyperbolic cosine."""
    return Cosh.apply(floating(x))


def asinh(x: Tensor) -> Tensor:
    """The inverse hyperbolic sine."""
    return Asinh.apply(floating(x))


def acosh(x: Tensor) -> Tensor:
    """The inverse hyperbolic cosine (NaN below 1)."""
    return Acosh.apply(floating(x))


def atanh(x: Tensor) -> Tensor:
    """The inverse hyperbolic tangent (NaN outside [-1, 1], +-inf at +-1)."""
    return Atanh.apply(floating(x))


def erf(x: Tensor) -> Tensor:
    """The error function, 2/sqrt(pi) * integral of exp(-t**2) from 0 to x."""
    return Erf.apply(floating(x))


def erfc(x: Tensor) -> Tensor:
    """1 - erf(x)."""
    return Erfc.apply(floating(x))


def _rounded(x: Tensor, fn: type[Function], **kwargs: Any) -> Tensor:
    """Integer and bool tensors are already whole: a copy, same dtype."""
    return constant(lambda xp, a: a.copy(), x) if x.dtype.kind in "biu" \
        else fn.apply(x, **kwargs)


def floor(x: Tensor) -> Tensor:
    """The largest integer <= x (integer tensors stay integers); the gradient is 0."""
    return _rounded(x, Floor)


def ceil(x: Tensor) -> Tensor:
    """The smallest integer >= x (integer tensors stay integers); the gradient is 0."""
    return _rounded(x, Ceil)


def trunc(x: Tensor) -> Tensor:
    """x rounded toward zero (integer tensors stay integers); the gradient is 0."""
    return _rounded(x, Trunc)


def round(x: Tensor, decimals: int = 0) -> Tensor:
    """x rounded half to even, to `decimals` places (`round(x, decimals=-2)` rounds to
    hundreds), as torch.round; integer tensors stay integers; the gradient is 0.

    >>> Tensor([0.5, 1.5, 2.25]).round(), Tensor([2.25]).round(decimals=1)   # [0, 2, 2], [2.2]
    """
    if not is_int(decimals):
        raise TypeError(f"round: decimals must be an int, got {type(decimals).__name__}")
    if decimals and x.dtype.kind in "biu":
        raise TypeError(f"round: decimals={decimals} needs a floating point tensor, got "
                        f"{x.dtype.name}")
    return _rounded(x, Round, decimals=int(decimals))


def frac(x: Tensor) -> Tensor:
    """x - trunc(x), the fractional part with the sign of x; the gradient is 1."""
    if not dtypes.is_float(x.dtype):
        raise TypeError(f"frac: needs a floating point tensor, got {x.dtype.name}")
    return x - trunc(x).detach()


def atan2(x: Tensor, other: Any) -> Tensor:
    """The angle of the point (other, x) in (-pi, pi], broadcasting: atan2(y, x) in C."""
    return Atan2.apply(*operands(x, other, "atan2", floating=True))


def logaddexp(x: Tensor, other: Any) -> Tensor:
    """log(exp(x) + exp(other)), computed without overflow, broadcasting."""
    return LogAddExp.apply(*operands(x, other, "logaddexp", floating=True))


def logaddexp2(x: Tensor, other: Any) -> Tensor:
    """log2(2**x + 2**other), computed without overflow, broadcasting."""
    return LogAddExp2.apply(*operands(x, other, "logaddexp2", floating=True))


def copysign(x: Tensor, other: Any) -> Tensor:
    """|x| with the sign of `other` (signed zeros count), broadcasting; float result."""
    return CopySign.apply(*operands(x, other, "copysign", floating=True))


def hypot(x: Tensor, other: Any) -> Tensor:
    """sqrt(x**2 + other**2) without overflow, broadcasting."""
    return Hypot.apply(*operands(x, other, "hypot", floating=True))


def lerp(x: Tensor, end: Any, weight: Any) -> Tensor:
    """Linear interpolation x + weight * (end - x), broadcasting all three; weight is a
    number or a tensor.

    >>> Tensor([1.0]).lerp(Tensor([3.0]), 0.25)     # [1.5]
    """
    start, stop = operands(x, end, "lerp", floating=True)
    if not is_scalar(weight):
        start, weight = operands(start, weight, "lerp", floating=True)
        stop = stop.cast(start.dtype)
    shapes = tuple(tuple(getattr(t, "shape", ())) for t in (start, stop, weight))
    try:
        broadcast_shapes(*shapes)
    except ValueError:
        raise ValueError(f"lerp: shapes {shapes[0]} (start), {shapes[1]} (end) and "
                         f"{shapes[2]} (weight) do not broadcast") from None
    diff = stop - start
    if is_scalar(weight):
        return start + weight * diff if weight < 0.5 else stop - diff * (1 - weight)
    # PyTorch's two-sided formula: exact at weight 0 and at weight 1
    return (weight < 0.5).where(start + weight * diff, stop - diff * (1 - weight))


# ---------------------------------------------------------------------- public names
_PUBLIC = {  # Tensor methods and package functions (torch.<name>)
    "abs": abs, "exp": exp, "log": log, "sqrt": sqrt, "rsqrt": rsqrt, "sin": sin, "cos": cos,
    "reciprocal": reciprocal, "square": square, "sign": sign, "exp2": exp2, "expm1": expm1,
    "log2": log2, "log10": log10, "log1p": log1p, "tan": tan, "asin": asin, "arcsin": asin,
    "acos": acos, "arccos": acos, "atan": atan, "arctan": atan, "sinh": sinh, "cosh": cosh,
    "asinh": asinh, "arcsinh": asinh, "acosh": acosh, "arccosh": acosh, "atanh": atanh,
    "arctanh": atanh, "erf": erf, "erfc": erfc, "floor": floor, "ceil": ceil, "round": round,
    "trunc": trunc, "fix": trunc, "frac": frac, "atan2": atan2, "arctan2": atan2,
    "logaddexp": logaddexp, "logaddexp2": logaddexp2, "copysign": copysign, "hypot": hypot,
    "lerp": lerp,
}
EXPORTS = Exports(methods=_PUBLIC, functions=_PUBLIC)
