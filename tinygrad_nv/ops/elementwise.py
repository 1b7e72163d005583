"""Elementwise ops: binary arithmetic with broadcasting, comparisons, logic, where, clip,
cast; and `operands`, the dtype promotion and scalar handling every binary op shares."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tinygrad_nv.autograd import Function
from tinygrad_nv.dtype import dtypes, result_dtype, scalar_dtype
from tinygrad_nv.ops._checks import check_device, is_scalar, is_tensor

if TYPE_CHECKING:
    from tinygrad_nv.tensor import Tensor


def unbroadcast(grad, shape: tuple):
    """Sum a gradient down to `shape`: the adjoint of broadcasting `shape` to grad.shape."""
    if grad.shape == shape:
        return grad
    lead = grad.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and grad.shape[lead + i] != 1)
    return grad.sum(axis=axes, keepdim=True).reshape(shape)


class Add(Function):
    def forward(self, a, b):
        return a + b

    def backward(self, g):
        a, b = self.parents
        return unbroadcast(g, a.shape), unbroadcast(g, b.shape)


class Sub(Function):
    def forward(self, a, b):
        return a - b

    def backward(self, g):
        a, b = self.parents
        return unbroadcast(g, a.shape), unbroadcast(-g, b.shape)


class Mul(Function):
    def forward(self, a, b):
        return a * b

    def backward(self, g):
        a, b = self.parents
        ga = unbroadcast(g * b, a.shape) if self.needs_input_grad[0] else None
        gb = unbroadcast(g * a, b.shape) if self.needs_input_grad[1] else None
        return ga, gb


class Div(Function):
    def forward(self, a, b):
        return a / b

    def backward(self, g):
        a, b = self.parents
        ga = unbroadcast(g / b, a.shape) if self.needs_input_grad[0] else None
        gb = unbroadcast(-g * a / (b * b), b.shape) if self.needs_input_grad[1] else None
        return ga, gb


class Pow(Function):
    def forward(self, a, b):
        return a**b

    def backward(self, g):
        a, b = self.parents
        ga = gb = None
        if self.needs_input_grad[0]:  # b * a^(b-1), and 0 where b == 0 (PyTorch: no 0 * inf)
            ga = unbroadcast(g * (b == 0).where(0.0, b * a ** (b - 1)), a.shape)
        if self.needs_input_grad[1]:  # a^b * log(a), and 0 where a == 0 and b >= 0
            zero = (a == 0) & (b >= 0)
            gb = unbroadcast(g * zero.where(0.0, a**b * a.log()), b.shape)
        return ga, gb


class Maximum(Function):
    """max(a, b); at ties the gradient is split evenly, as in PyTorch."""

    def forward(self, a, b):
        return self.xp.maximum(a, b)

    def backward(self, g):
        a, b = self.parents
        share = g._like(((a.data > b.data) + 0.5 * (a.data == b.data)).astype(g.dtype))
        ga = unbroadcast(g * share, a.shape) if self.needs_input_grad[0] else None
        gb = unbroadcast(g * (1 - share), b.shape) if self.needs_input_grad[1] else None
        return ga, gb


class Where(Function):
    """cond ? a : b, cond a bool tensor that gets no gradient."""

    def forward(self, cond, a, b):
        return self.xp.where(cond, a, b)

    def backward(self, g):
        cond, a, b = self.parents
        ga = unbroadcast(cond.where(g, 0.0), a.shape) if self.needs_input_grad[1] else None
        gb = unbroadcast(cond.where(0.0, g), b.shape) if self.needs_input_grad[2] else None
        return None, ga, gb


class Neg(Function):
    def forward(self, x):
        return -x

    def backward(self, g):
        return -g


class Clip(Function):
    """clamp(x, low, high); gradient 1 where low <= x <= high (PyTorch's convention)."""

    def forward(self, x, low, high):
        self.low, self.high = low, high
        return self.xp.clip(x, low, high)

    def backward(self, g):
        x = self.parents[0].data
        inside = self.xp.ones(x.shape, dtype=bool)
        if self.low is not None:
            inside &= x >= self.low
        if self.high is not None:
            inside &= x <= self.high
        return g * g._like(inside.astype(g.dtype))


class Cast(Function):
    def forward(self, x, dtype):
        return x.astype(dtype)

    def backward(self, g):
        return g.cast(self.parents[0].dtype)


# ---------------------------------------------------------------------- operands
def operands(x: Tensor, other: Any, op: str, reverse: bool = False,
             floating: bool = False) -> tuple[Tensor, Tensor]:
    """x and other as two tensors of one dtype on one device (in operator order): NumPy's
    promotion, except that a Python scalar never widens a tensor; `floating` makes integer
    results float32."""
    if type(other) is type(x) and other.data.dtype == x.data.dtype \
            and other._backend is x._backend and not floating:  # the hot path
        return (other, x) if reverse else (x, other)
    if is_tensor(other):
        check_device(x, other, op)
        dt = x.dtype if other.dtype == x.dtype else result_dtype(x.dtype, other.dtype)
    elif is_scalar(other):
        dt = scalar_dtype(x.dtype, other)
    elif isinstance(other, (list, tuple)) or hasattr(other, "__array__"):
        return operands(x, type(x)(other, device=x.device), op, reverse, floating)
    else:
        raise TypeError(f"{op}: unsupported operand type {type(other).__name__} "
                        "(valid: Tensor, Python number, array)")
    if floating and dt.kind != "f":
        dt = dtypes.default_float
    a = x if x.dtype == dt else x.cast(dt)
    if is_tensor(other):
        b = other if other.dtype == dt else other.cast(dt)
    else:
        b = x._like(x.backend.xp.asarray(other, dtype=dt))
    return (b, a) if reverse else (a, b)


# ---------------------------------------------------------------------- arithmetic
def add(x: Tensor, other: Any) -> Tensor:
    """x + other, broadcasting; `other` may be a Python number."""
    return Add.apply(*operands(x, other, "add"))


def sub(x: Tensor, other: Any) -> Tensor:
    """x - other, broadcasting."""
    return Sub.apply(*operands(x, other, "sub"))


def mul(x: Tensor, other: Any) -> Tensor:
    """x * other, broadcasting."""
    return Mul.apply(*operands(x, other, "mul"))


def div(x: Tensor, other: Any) -> Tensor:
    """x / other (true division: integers give float32), broadcasting."""
    return Div.apply(*operands(x, other, "div", floating=True))


def pow(x: Tensor, exponent: Any) -> Tensor:
    """x ** exponent, broadcasting."""
    return Pow.apply(*operands(x, exponent, "pow"))


def radd(x: Tensor, other: Any) -> Tensor:
    """other + x, other a number or array."""
    return Add.apply(*operands(x, other, "add", reverse=True))


def rsub(x: Tensor, other: Any) -> Tensor:
    """other - x."""
    return Sub.apply(*operands(x, other, "sub", reverse=True))


def rmul(x: Tensor, other: Any) -> Tensor:
    """other * x."""
    return Mul.apply(*operands(x, other, "mul", reverse=True))


def rdiv(x: Tensor, other: Any) -> Tensor:
    """other / x (true division)."""
    return Div.apply(*operands(x, other, "div", reverse=True, floating=True))


def rpow(x: Tensor, base: Any) -> Tensor:
    """base ** x."""
    return Pow.apply(*operands(x, base, "pow", reverse=True))


def neg(x: Tensor) -> Tensor:
    """-x."""
    return Neg.apply(x)


def maximum(x: Tensor, other: Any) -> Tensor:
    """Elementwise max; ties split the gradient evenly."""
    return Maximum.apply(*operands(x, other, "maximum"))


def minimum(x: Tensor, other: Any) -> Tensor:
    """Elementwise min; ties split the gradient evenly."""
    a, b = operands(x, other, "minimum")
    return -Maximum.apply(-a, -b)


def clip(x: Tensor, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
    """Limit values to [min, max]; the gradient is 1 inside (bounds included), 0 outside."""
    if min is None and max is None:
        raise ValueError("clip: at least one of min and max must be given")
    if is_tensor(min) or is_tensor(max):
        out = x if min is None else maximum(x, min)
        return out if max is None else minimum(out, max)
    for name, v in (("min", min), ("max", max)):
        if v is not None and not is_scalar(v):
            raise TypeError(f"clip: {name} must be a number or Tensor, got "
                            f"{type(v).__name__}")
    dt = scalar_dtype(scalar_dtype(x.dtype, min), max)  # float bounds: float result
    return Clip.apply(x.cast(dt), low=min, high=max)


def where(condition: Tensor, x: Any, y: Any) -> Tensor:
    """`cond.where(x, y)` (or `Tensor.where(cond, x, y)`): x where cond is true, else y."""
    cond = condition if condition.dtype == dtypes.bool else condition != 0
    if is_tensor(x):
        a, b = operands(x, y, "where")
    elif is_tensor(y):
        a, b = operands(y, x, "where", reverse=True)
    else:
        a, b = operands(type(cond)(x, device=cond.device), y, "where")
    check_device(cond, a, "where")
    return Where.apply(cond, a, b)


# ---------------------------------------------------------------------- comparisons and logic
# no gradient, bool results
def _compare(x: Tensor, other: Any, op: str, fn) -> Tensor:
    a, b = operands(x, other, op)
    return x._like(fn(a.data, b.data))


def eq(x: Tensor, other: Any) -> Tensor:
    """Elementwise ==, a bool tensor (no gradient)."""
    return _compare(x, other, "eq", lambda a, b: a == b)


def ne(x: Tensor, other: Any) -> Tensor:
    """Elementwise !=, a bool tensor (no gradient)."""
    return _compare(x, other, "ne", lambda a, b: a != b)


def lt(x: Tensor, other: Any) -> Tensor:
    """Elementwise <, a bool tensor (no gradient)."""
    return _compare(x, other, "lt", lambda a, b: a < b)


def le(x: Tensor, other: Any) -> Tensor:
    """Elementwise <=, a bool tensor (no gradient)."""
    return _compare(x, other, "le", lambda a, b: a <= b)


def gt(x: Tensor, other: Any) -> Tensor:
    """Elementwise >, a bool tensor (no gradient)."""
    return _compare(x, other, "gt", lambda a, b: a > b)


def ge(x: Tensor, other: Any) -> Tensor:
    """Elementwise >=, a bool tensor (no gradient)."""
    return _compare(x, other, "ge", lambda a, b: a >= b)


def isnan(x: Tensor) -> Tensor:
    """Where the values are NaN (no gradient)."""
    return x._like(x.backend.xp.isnan(x.data))


def _logic(x: Tensor, other: Any, op: str, fn) -> Tensor:
    a, b = operands(x, other, op)
    if a.dtype.kind not in "biu":
        raise TypeError(f"{op}: needs bool or integer tensors, got {a.dtype.name}")
    return x._like(fn(a.data, b.data))


def bitwise_and(x: Tensor, other: Any) -> Tensor:
    """x & other on bool or integer tensors (no gradient)."""
    return _logic(x, other, "and", lambda a, b: a & b)


def bitwise_or(x: Tensor, other: Any) -> Tensor:
    """x | other on bool or integer tensors (no gradient)."""
    return _logic(x, other, "or", lambda a, b: a | b)


def bitwise_xor(x: Tensor, other: Any) -> Tensor:
    """x ^ other on bool or integer tensors (no gradient)."""
    return _logic(x, other, "xor", lambda a, b: a ^ b)


def bitwise_not(x: Tensor) -> Tensor:
    """~x on a bool or integer tensor (no gradient)."""
    if x.dtype.kind not in "biu":
        raise TypeError(f"invert: needs a bool or integer tensor, got {x.dtype.name}")
    return x._like(~x.data)
