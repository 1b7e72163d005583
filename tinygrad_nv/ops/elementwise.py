"""Elementwise arithmetic with broadcasting (+ - * / // % fmod pow maximum minimum), where,
clip, cast; and `operands`, the dtype promotion and scalar handling every binary op shares.
Comparisons and logic are in ops/logic.py."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tinygrad_nv.autograd import Function, is_grad_enabled
from tinygrad_nv.autograd.autocast_state import autocast_op
from tinygrad_nv.autograd.function import constant
from tinygrad_nv.dtype import (
    accumulation_dtype,
    dtypes,
    is_floating,
    result_dtype,
    scalar_dtype,
)
from tinygrad_nv.ops import Exports
from tinygrad_nv.ops._checks import check_device, is_int, is_scalar, is_tensor

if TYPE_CHECKING:
    from tinygrad_nv._tensor import Tensor


def unbroadcast(grad, shape: tuple):
    """Sum a gradient down to `shape`: the adjoint of broadcasting `shape` to grad.shape.
    Backwards pass their inputs' `_data.shape` (the array's tuple: no Size on the hot path)."""
    grad_shape = grad._data.shape
    if grad_shape == shape:
        return grad
    lead = len(grad_shape) - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and grad_shape[lead + i] != 1)
    if not is_grad_enabled():  # backward records no graph: one raw reduction (fast path)
        data = grad._data  # float16 adds up in float32, as the Sum op does
        total = data.sum(axis=axes, keepdims=True, dtype=accumulation_dtype(data.dtype))
        return grad._like(total.astype(data.dtype, copy=False).reshape(shape))
    return grad.sum(axis=axes, keepdim=True).reshape(shape)


def times(g, x):
    """g * x for a backward: a Tensor op where backward is recorded (create_graph), else one
    raw multiply with no graph node (fast path)."""
    return g * x if is_grad_enabled() else g._like(g._data * x._data)


class Add(Function):
    saved_inputs = ()  # backward reads shapes only

    def forward(self, a, b):
        return a + b

    def backward(self, g):
        a, b = self.parents
        return unbroadcast(g, a._data.shape), unbroadcast(g, b._data.shape)


class Sub(Function):
    saved_inputs = ()  # backward reads shapes only

    def forward(self, a, b):
        return a - b

    def backward(self, g):
        a, b = self.parents
        return unbroadcast(g, a._data.shape), unbroadcast(-g, b._data.shape)


class Mul(Function):
    @property
    def saved_inputs(self) -> tuple[int, ...]:  # a is read for b's gradient, b for a's
        return tuple(i for i in (0, 1) if self.needs_input_grad[1 - i])

    def forward(self, a, b):
        return a * b

    def backward(self, g):
        a, b = self.parents
        ga = unbroadcast(times(g, b), a._data.shape) if self.needs_input_grad[0] else None
        gb = unbroadcast(times(g, a), b._data.shape) if self.needs_input_grad[1] else None
        return ga, gb


class Div(Function):
    @property
    def saved_inputs(self) -> tuple[int, ...]:  # b for either gradient, a for b's
        return (0, 1) if self.needs_input_grad[1] else (1,)

    def forward(self, a, b):
        return a / b

    def backward(self, g):
        a, b = self.parents
        ga = unbroadcast(g / b, a._data.shape) if self.needs_input_grad[0] else None
        gb = unbroadcast(-g * a / (b * b), b._data.shape) if self.needs_input_grad[1] else None
        return ga, gb


class Pow(Function):
    def forward(self, a, b):
        return a**b

    def backward(self, g):
        a, b = self.parents
        ga = gb = None
        if self.needs_input_grad[0]:  # b * a^(b-1), and 0 where b == 0 (PyTorch: no 0 * inf)
            ga = unbroadcast(g * (b == 0).where(0.0, b * a ** (b - 1)), a._data.shape)
        if self.needs_input_grad[1]:  # a^b * log(a), and 0 where a == 0 and b >= 0
            zero = (a == 0) & (b >= 0)
            gb = unbroadcast(g * zero.where(0.0, a**b * a.log()), b._data.shape)
        return ga, gb


class PowScalar(Function):
    """x ** p for a float x and p in POWERS, computed as PyTorch computes it: products, sqrt
    and reciprocals, not pow (1M float32: x**3 48 ms through pow, 0.2 ms as x*x*x); the
    gradient p * x**(p - 1) likewise."""

    def forward(self, x, p: float):
        self.p = p
        return power(self.xp, x, p)

    def backward(self, g):
        x, p = self.parents[0], self.p
        if is_grad_enabled():  # recorded: differentiable again
            return g * (x ** (p - 1) * p)
        return g._like(g._data * (p * power(self.xp, x._data, p - 1)))


POWERS = (2, 3, -1, -2, 0.5, -0.5)  # PyTorch's special cases of a float tensor ** scalar


def power(xp, x, p: float):
    """x ** p with PyTorch's special cases (POWERS and their p - 1) as products, sqrt or
    reciprocals; other exponents through pow."""
    if p == 1:
        return x
    if p == 2:
        return x * x
    if p == 3:
        return x * x * x
    if p in (-1, -2):
        return xp.reciprocal(x if p == -1 else x * x)
    if p == 0.5:
        return xp.sqrt(x)
    if p == -0.5:
        return xp.reciprocal(xp.sqrt(x))
    if p == -3:  # x**-2's gradient: pow is slow for integer exponents; float64 keeps 1 ulp
        wide = x.astype(xp.float64, copy=False)
        return xp.reciprocal(wide * wide * wide).astype(x.dtype, copy=False)
    return xp.power(x, x.dtype.type(p))


class FloorDivide(Function):
    """a // b, the floor of the quotient: piecewise constant, so its gradient is zero."""

    def forward(self, a, b):
        return self.xp.floor_divide(a, b)

    def backward(self, g):
        a, b = self.parents
        return unbroadcast(g * 0, a._data.shape), unbroadcast(g * 0, b._data.shape)


class Remainder(Function):
    """a - b * floor(a / b): the sign of b, as Python's %."""

    def forward(self, a, b):
        return self.xp.remainder(a, b)

    def backward(self, g):  # PyTorch's: d/da = 1, d/db = -floor(a / b)
        a, b = self.parents
        ga = unbroadcast(g, a._data.shape) if self.needs_input_grad[0] else None
        gb = unbroadcast(-g * (a // b), b._data.shape) if self.needs_input_grad[1] else None
        return ga, gb


class Fmod(Function):
    """a - b * trunc(a / b): the sign of a, as C's fmod."""

    def forward(self, a, b):
        return self.xp.fmod(a, b)

    def backward(self, g):  # PyTorch's: d/da = 1, d/db = -trunc(a / b)
        a, b = self.parents
        ga = unbroadcast(g, a._data.shape) if self.needs_input_grad[0] else None
        gb = unbroadcast(-g * (a / b).trunc(), b._data.shape) if self.needs_input_grad[1] else None
        return ga, gb


class Maximum(Function):
    """max(a, b), or min(a, b) with `smaller=True` (no negation: exact for integers and
    bools); at ties the gradient is split evenly, as in PyTorch."""

    def forward(self, a, b, smaller=False):
        self.smaller = smaller
        return (self.xp.minimum if smaller else self.xp.maximum)(a, b)

    def backward(self, g):
        a, b = self.parents
        wins = a._data < b._data if self.smaller else a._data > b._data
        share = g._like((wins + 0.5 * (a._data == b._data)).astype(g.dtype))
        ga = unbroadcast(g * share, a._data.shape) if self.needs_input_grad[0] else None
        gb = unbroadcast(g * (1 - share), b._data.shape) if self.needs_input_grad[1] else None
        return ga, gb


class Where(Function):
    """cond ? a : b, cond a bool tensor that gets no gradient."""

    saved_inputs = (0,)  # backward reads only the condition

    def forward(self, cond, a, b):
        return self.xp.where(cond, a, b)

    def backward(self, g):
        cond, a, b = self.parents
        ga = unbroadcast(cond.where(g, 0.0), a._data.shape) if self.needs_input_grad[1] else None
        gb = unbroadcast(cond.where(0.0, g), b._data.shape) if self.needs_input_grad[2] else None
        return None, ga, gb


class Neg(Function):
    saved_inputs = ()  # backward reads shapes only

    def forward(self, x):
        return -x

    def backward(self, g):
        return -g


class Clip(Function):
    """clamp(x, low, high); gradient 1 where low <= x <= high (PyTorch's convention)."""

    def forward(self, x, low, high):
        self.low, self.high = low, high
        out = self.xp.clip(x, low, high)  # NumPy has no bfloat16 clip: float32, rounded back
        return out.astype(x.dtype) if x.dtype.name == "bfloat16" else out

    def backward(self, g):
        x = self.parents[0]._data
        inside = self.xp.ones(x.shape, dtype=bool)
        if self.low is not None:
            inside &= x >= self.low
        if self.high is not None:
            inside &= x <= self.high
        return g * g._like(inside.astype(g.dtype))


class Cast(Function):
    saved_inputs = ()  # backward reads shapes only

    def forward(self, x, dtype):
        return x.astype(dtype)

    def backward(self, g):
        return g.cast(self.parents[0].dtype)


# ---------------------------------------------------------------------- operands
def operands(x: Tensor, other: Any, op: str, reverse: bool = False,
             floating: bool = False) -> tuple[Tensor, Tensor]:
    """x and other as two tensors of one dtype on one device (in operator order): NumPy's
    promotion, except that a Python or NumPy scalar never widens a tensor (a NumPy array
    counts as a tensor); `floating` makes integer results float32."""
    if type(other) is type(x) and other._data.dtype == x._data.dtype \
            and other._backend is x._backend and not floating:  # the hot path
        return (other, x) if reverse else (x, other)
    other_is_tensor = False
    if type(other) in _PYTHON_SCALARS:
        dt = scalar_dtype(x.dtype, other)
    elif is_tensor(other):  # a Tensor beside an nn.Parameter, or another dtype
        check_device(x, other, op)
        if other._data.dtype == x._data.dtype and not floating:
            return (other, x) if reverse else (x, other)
        other_is_tensor = True
        dt = x.dtype if other.dtype == x.dtype else result_dtype(x.dtype, other.dtype)
    elif is_scalar(other):  # a NumPy scalar counts as the Python number it holds
        other = other.item() if hasattr(other, "item") else other
        dt = scalar_dtype(x.dtype, other)
    elif isinstance(other, (list, tuple)) or hasattr(other, "__array__"):
        return operands(x, as_tensor_on(x, other), op, reverse, floating)
    else:
        raise TypeError(f"{op}: unsupported operand type {type(other).__name__} "
                        "(valid: Tensor, Python or NumPy number, NumPy array, list)")
    if floating and not dtypes.is_float(dt):
        dt = dtypes.default_float
    a = x if x.dtype == dt else x.cast(dt)
    if other_is_tensor:
        b = other if other.dtype == dt else other.cast(dt)
    else:
        value = _wrapped(other, dt) if dt.kind in "iu" else other
        b = x._like(x._backend.xp.asarray(value, dtype=dt))
    return (b, a) if reverse else (a, b)


_PYTHON_SCALARS = (int, float, bool)


def as_tensor_on(x: Tensor, value: Any) -> Tensor:
    """`value` (nested lists, an array) as a new Tensor on x's device: a plain Tensor also
    where x is a subclass such as nn.Parameter (whose constructor takes other arguments)."""
    return type(x._like(x._data))(value, device=x.device)


def _wrapped(value: Any, dt) -> Any:
    """A Python int outside an integer dtype's range wraps around, as in PyTorch
    (uint8 tensor + 300 adds 44); other scalars pass through."""
    if not is_int(value):
        return value
    bits = 8 * dt.itemsize
    value = int(value) & ((1 << bits) - 1)
    return value - (1 << bits) if dt.kind == "i" and value >> (bits - 1) else value


# ---------------------------------------------------------------------- arithmetic
def add(x: Tensor, other: Any, *, alpha: Any = 1) -> Tensor:
    """x + alpha * other, broadcasting; `other` may be a Python number, as torch.add."""
    if alpha != 1:
        other = _times_alpha(x, other, alpha, "add")
    return Add.apply(*operands(x, other, "add"))


def sub(x: Tensor, other: Any, *, alpha: Any = 1) -> Tensor:
    """x - alpha * other, broadcasting, as torch.sub."""
    if alpha != 1:
        other = _times_alpha(x, other, alpha, "sub")
    return Sub.apply(*operands(x, other, "sub"))


def _times_alpha(x: Tensor, other: Any, alpha: Any, op: str) -> Any:
    """alpha * other for add and sub, after PyTorch's checks of alpha."""
    if not is_scalar(alpha):
        raise TypeError(f"{op}: alpha must be a number, got {type(alpha).__name__}")
    integral = not dtypes.is_float(x.dtype) and not (is_tensor(other) and
                                                     dtypes.is_float(other.dtype))
    if integral and isinstance(alpha, float):
        raise RuntimeError(f"{op}: for integral input tensors, argument alpha must not be a "
                           f"floating point number, got {alpha}")
    return other * alpha


def mul(x: Tensor, other: Any) -> Tensor:
    """x * other, broadcasting."""
    return Mul.apply(*operands(x, other, "mul"))


def div(x: Tensor, other: Any, *, rounding_mode: str | None = None) -> Tensor:
    """x / other, broadcasting: true division (integers give float32), or with
    rounding_mode='trunc' / 'floor' the quotient rounded toward zero / down (integers stay
    integers; the gradient is 0), as torch.div.

    >>> Tensor([-7, 7]).div(2, rounding_mode="trunc")     # [-3, 3]
    """
    if rounding_mode is None:
        return Div.apply(*operands(x, other, "div", floating=True))
    if rounding_mode == "floor":
        return FloorDivide.apply(*_integer_division("div", *operands(x, other, "div")))
    if rounding_mode != "trunc":
        raise ValueError(f"div: rounding_mode must be None, 'trunc' or 'floor', got "
                         f"{rounding_mode!r}")
    a, b = _integer_division("div", *operands(x, other, "div"))
    if dtypes.is_float(a.dtype):
        return Div.apply(a, b).trunc()
    return FloorDivide.apply(a - Fmod.apply(a, b), b)  # exact: a - fmod(a, b) is a multiple


@autocast_op
def pow(x: Tensor, exponent: Any) -> Tensor:
    """x ** exponent, broadcasting."""
    if type(exponent) in (int, float) and exponent in POWERS and x.dtype.kind == "f":
        return PowScalar.apply(x, p=exponent)
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


@autocast_op
def rdiv(x: Tensor, other: Any) -> Tensor:
    """other / x (true division)."""
    return Div.apply(*operands(x, other, "div", reverse=True, floating=True))


@autocast_op
def rpow(x: Tensor, base: Any) -> Tensor:
    """base ** x."""
    return Pow.apply(*operands(x, base, "pow", reverse=True))


def _integer_division(op: str, a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    """Integer division by zero raises on the CPU (as PyTorch), where NumPy would warn and
    give 0; on a GPU the check would wait for the device, so there (as in PyTorch) it is not
    made."""
    if b.dtype.kind in "biu" and b.backend.checks_values and bool((b._data == 0).any()):
        raise RuntimeError(f"{op}: integer division by zero ({a.dtype.name} tensors of shapes "
                           f"{tuple(a.shape)} and {tuple(b.shape)}); ZeroDivisionError in PyTorch "
                           f"too")
    return a, b


def floor_divide(x: Tensor, other: Any) -> Tensor:
    """x // other, rounded toward minus infinity (Python's //); integers stay integers; the
    gradient is 0. Integer division by zero raises RuntimeError.

    >>> Tensor([-7, 7]) // 2         # [-4, 3]
    """
    return FloorDivide.apply(*_integer_division("floor_divide",
                                                *operands(x, other, "floor_divide")))


def rfloordiv(x: Tensor, other: Any) -> Tensor:
    """other // x."""
    return FloorDivide.apply(*_integer_division(
        "floor_divide", *operands(x, other, "floor_divide", reverse=True)))


def remainder(x: Tensor, other: Any) -> Tensor:
    """x % other with the sign of `other` (Python's %, torch.remainder), broadcasting.

    >>> Tensor([-7, 7]) % 3          # [2, 1]
    """
    return Remainder.apply(*_integer_division("remainder", *operands(x, other, "remainder")))


def rremainder(x: Tensor, other: Any) -> Tensor:
    """other % x."""
    return Remainder.apply(*_integer_division(
        "remainder", *operands(x, other, "remainder", reverse=True)))


def fmod(x: Tensor, other: Any) -> Tensor:
    """The remainder of x / other with the sign of x (C's fmod, torch.fmod), broadcasting.

    >>> Tensor([-7, 7]).fmod(3)      # [-1, 1]
    """
    return Fmod.apply(*_integer_division("fmod", *operands(x, other, "fmod")))


def neg(x: Tensor) -> Tensor:
    """-x."""
    return Neg.apply(x)


def positive(x: Tensor) -> Tensor:
    """+x: the tensor itself, as torch.positive."""
    return x


def maximum(x: Tensor, other: Any) -> Tensor:
    """Elementwise max; ties split the gradient evenly."""
    return Maximum.apply(*operands(x, other, "maximum"))


def minimum(x: Tensor, other: Any) -> Tensor:
    """Elementwise min; ties split the gradient evenly."""
    return Maximum.apply(*operands(x, other, "minimum"), smaller=True)


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
        a, b = operands(as_tensor_on(cond, x), y, "where")
    check_device(cond, a, "where")
    return Where.apply(cond, a, b)


def nan_to_num(x: Tensor, nan: float = 0.0, posinf: float | None = None,
               neginf: float | None = None) -> Tensor:
    """x with NaN, inf and -inf replaced by `nan`, `posinf` and `neginf` (by default 0 and the
    dtype's largest and lowest finite values), as torch.nan_to_num; the gradient is 0 at the
    replaced places. Integers and bools come back as a copy.

    >>> Tensor([1.0, float("nan"), float("inf")]).nan_to_num().tolist()   # [1.0, 0.0, 3.4e38]
    """
    for name, value in (("nan", nan), ("posinf", posinf), ("neginf", neginf)):
        if value is not None and not is_scalar(value):
            raise TypeError(f"nan_to_num: {name} must be a number, got {type(value).__name__}")
    if not is_floating(x.dtype):
        return x.clone()
    finite = constant(lambda xp, a: xp.isfinite(a), x)
    return finite.where(x, constant(lambda xp, a: _replaced(xp, a, nan, posinf, neginf), x))


def _replaced(xp, a, nan: float, posinf: float | None, neginf: float | None):
    """a's NaN and infinities replaced (the rest of a stays, unused)."""
    inf = xp.asarray(float("inf"), dtype=a.dtype)
    largest = (inf.view(f"uint{a.dtype.itemsize * 8}") - 1).view(a.dtype)  # below inf's bits
    high = largest if posinf is None else posinf
    low = -largest if neginf is None else neginf
    return xp.where(a != a, nan, xp.where(a > 0, high, low)).astype(a.dtype)


# ---------------------------------------------------------------------- public names
_PUBLIC = {  # Tensor methods and package functions (torch.<name>)
    "add": add, "sub": sub, "mul": mul, "div": div, "pow": pow, "floor_divide": floor_divide,
    "remainder": remainder, "fmod": fmod, "neg": neg, "positive": positive, "maximum": maximum,
    "minimum": minimum, "clip": clip, "clamp": clip, "where": where, "nan_to_num": nan_to_num,
    "divide": div, "multiply": mul, "subtract": sub, "negative": neg,
}
EXPORTS = Exports(methods=_PUBLIC, functions=_PUBLIC)
