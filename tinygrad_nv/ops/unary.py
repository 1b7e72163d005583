"""Unary math: exp, log, sqrt, trigonometry, reciprocal, abs, sign. Float-valued functions
promote integer and bool inputs to float32."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tinygrad_nv.autograd import Function
from tinygrad_nv.dtype import dtypes

if TYPE_CHECKING:
    from tinygrad_nv.tensor import Tensor


class Exp(Function):
    save_output = True

    def forward(self, x):
        return self.xp.exp(x)

    def backward(self, g):
        return g * self.output()


class Log(Function):
    def forward(self, x):
        return self.xp.log(x)

    def backward(self, g):
        return g / self.parents[0]


class Sqrt(Function):
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


class Sign(Function):
    """sign(x): its gradient is zero everywhere (as in PyTorch)."""

    def forward(self, x):
        return self.xp.sign(x)

    def backward(self, g):
        return g * 0


def floating(x: Tensor) -> Tensor:
    """Integer/bool tensors promoted to float32 for float-valued functions; floats as they are."""
    return x if x.dtype.kind == "f" else x.cast(dtypes.default_float)


def abs(x: Tensor) -> Tensor:
    """|x|; the gradient at 0 is 0."""
    return Abs.apply(x)


def exp(x: Tensor) -> Tensor:
    """e ** x (integers are promoted to float32, as for every float-valued function)."""
    return Exp.apply(floating(x))


def log(x: Tensor) -> Tensor:
    """The natural logarithm."""
    return Log.apply(floating(x))


def sqrt(x: Tensor) -> Tensor:
    """The square root."""
    return Sqrt.apply(floating(x))


def rsqrt(x: Tensor) -> Tensor:
    """1 / sqrt(x)."""
    return reciprocal(sqrt(x))


def sin(x: Tensor) -> Tensor:
    """The sine."""
    return Sin.apply(floating(x))


def cos(x: Tensor) -> Tensor:
    """The cosine."""
    return Cos.apply(floating(x))


def reciprocal(x: Tensor) -> Tensor:
    """1 / x."""
    return Reciprocal.apply(floating(x))


def square(x: Tensor) -> Tensor:
    """x * x."""
    return x * x


def sign(x: Tensor) -> Tensor:
    """-1, 0 or 1; the gradient is 0."""
    return Sign.apply(x)
