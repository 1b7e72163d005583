"""Comparisons, value tests (isnan, isclose, ...), logical and bitwise ops and shifts: the
elementwise ops without a gradient. Comparisons and tests give bool tensors; bitwise ops
and shifts keep their (bool or integer) dtype."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tinygrad_nv.autograd.function import constant
from tinygrad_nv.ops import Exports
from tinygrad_nv.ops._checks import ShapeError, broadcast_shapes, is_scalar
from tinygrad_nv.ops.elementwise import operands

if TYPE_CHECKING:
    from tinygrad_nv._tensor import Tensor


def _pair(x: Tensor, other: Any, op: str, reverse: bool = False) -> tuple[Tensor, Tensor]:
    """operands(x, other), their shapes checked to broadcast so that the error names the op."""
    a, b = operands(x, other, op, reverse=reverse)
    if a.shape != b.shape:
        try:
            broadcast_shapes(a.shape, b.shape)
        except ValueError:
            raise ShapeError(f"{op}: shapes {tuple(a.shape)} and {tuple(b.shape)} do not broadcast "
                             "(aligned from the last axis, sizes must match or be 1)") from None
    return a, b


def _compare(x: Tensor, other: Any, op: str, fn: Callable) -> Tensor:
    a, b = _pair(x, other, op)
    return constant(fn, a, b)


def eq(x: Tensor, other: Any) -> Tensor:
    """Elementwise ==, a bool tensor (no gradient)."""
    return _compare(x, other, "eq", lambda xp, a, b: a == b)


def ne(x: Tensor, other: Any) -> Tensor:
    """Elementwise !=, a bool tensor (no gradient)."""
    return _compare(x, other, "ne", lambda xp, a, b: a != b)


def lt(x: Tensor, other: Any) -> Tensor:
    """Elementwise <, a bool tensor (no gradient)."""
    return _compare(x, other, "lt", lambda xp, a, b: a < b)


def le(x: Tensor, other: Any) -> Tensor:
    """Elementwise <=, a bool tensor (no gradient)."""
    return _compare(x, other, "le", lambda xp, a, b: a <= b)


def gt(x: Tensor, other: Any) -> Tensor:
    """Elementwise >, a bool tensor (no gradient)."""
    return _compare(x, other, "gt", lambda xp, a, b: a > b)


def ge(x: Tensor, other: Any) -> Tensor:
    """Elementwise >=, a bool tensor (no gradient)."""
    return _compare(x, other, "ge", lambda xp, a, b: a >= b)


def isclose(x: Tensor, other: Any, rtol: float = 1e-05, atol: float = 1e-08,
            equal_nan: bool = False) -> Tensor:
    """Where |x - other| <= atol + rtol * |other| (infinities equal only to themselves; NaNs
    equal only with equal_nan=True), as torch.isclose; a bool tensor.

    >>> Tensor([1.0, 2.0]).isclose(Tensor([1.0, 2.1]))     # [True, False]
    """
    for name, v in (("rtol", rtol), ("atol", atol)):
        if not is_scalar(v) or not v >= 0:
            raise ValueError(f"isclose: {name} must be a number >= 0, got {v!r}")
    a, b = _pair(x, other, "isclose")
    return constant(lambda xp, a, b: xp.isclose(a, b, rtol=rtol, atol=atol,
                                                equal_nan=bool(equal_nan)), a, b)


def allclose(x: Tensor, other: Any, rtol: float = 1e-05, atol: float = 1e-08,
             equal_nan: bool = False) -> bool:
    """Whether isclose holds everywhere (broadcasting): a Python bool, as torch.allclose."""
    return bool(isclose(x, other, rtol, atol, equal_nan).all())


def isnan(x: Tensor) -> Tensor:
    """Where the values are NaN (no gradient)."""
    return constant(lambda xp, a: xp.isnan(a), x)


def isinf(x: Tensor) -> Tensor:
    """Where the values are +inf or -inf."""
    return constant(lambda xp, a: xp.isinf(a), x)


def isposinf(x: Tensor) -> Tensor:
    """Where the values are +inf."""
    return constant(lambda xp, a: xp.isinf(a) & (a > 0), x)


def isneginf(x: Tensor) -> Tensor:
    """Where the values are -inf."""
    return constant(lambda xp, a: xp.isinf(a) & (a < 0), x)


def isfinite(x: Tensor) -> Tensor:
    """Where the values are neither infinite nor NaN."""
    return constant(lambda xp, a: xp.isfinite(a), x)


# ---------------------------------------------------------------------- logical: any dtype
def logical_not(x: Tensor) -> Tensor:
    """Where x is zero (false), for any dtype; a bool tensor."""
    return constant(lambda xp, a: xp.logical_not(a), x)


def logical_and(x: Tensor, other: Any) -> Tensor:
    """Where both are nonzero, for any dtypes, broadcasting; a bool tensor."""
    a, b = _pair(x, other, "logical_and")
    return constant(lambda xp, a, b: xp.logical_and(a, b), a, b)


def logical_or(x: Tensor, other: Any) -> Tensor:
    """Where either is nonzero, for any dtypes, broadcasting; a bool tensor."""
    a, b = _pair(x, other, "logical_or")
    return constant(lambda xp, a, b: xp.logical_or(a, b), a, b)


def logical_xor(x: Tensor, other: Any) -> Tensor:
    """Where exactly one is nonzero, for any dtypes, broadcasting; a bool tensor."""
    a, b = _pair(x, other, "logical_xor")
    return constant(lambda xp, a, b: xp.logical_xor(a, b), a, b)


# ---------------------------------------------------------------------- bitwise: bool, ints
def _bitwise(x: Tensor, other: Any, op: str, fn: Callable, reverse: bool = False,
             kinds: str = "biu") -> Tensor:
    a, b = _pair(x, other, op, reverse)
    if a.dtype.kind not in kinds:
        valid = "integer" if kinds == "iu" else "bool or integer"
        raise TypeError(f"{op}: needs {valid} tensors, got {a.dtype.name} (from "
                        f"{x.dtype.name} and {getattr(other, 'dtype', type(other).__name__)})")
    return constant(fn, a, b)


def bitwise_and(x: Tensor, other: Any) -> Tensor:
    """x & other on bool or integer tensors, broadcasting."""
    return _bitwise(x, other, "bitwise_and", lambda xp, a, b: a & b)


def bitwise_or(x: Tensor, other: Any) -> Tensor:
    """x | other on bool or integer tensors, broadcasting."""
    return _bitwise(x, other, "bitwise_or", lambda xp, a, b: a | b)


def bitwise_xor(x: Tensor, other: Any) -> Tensor:
    """x ^ other on bool or integer tensors, broadcasting."""
    return _bitwise(x, other, "bitwise_xor", lambda xp, a, b: a ^ b)


def rbitwise_and(x: Tensor, other: Any) -> Tensor:
    """other & x (`1 & t`)."""
    return _bitwise(x, other, "bitwise_and", lambda xp, a, b: a & b, reverse=True)


def rbitwise_or(x: Tensor, other: Any) -> Tensor:
    """other | x."""
    return _bitwise(x, other, "bitwise_or", lambda xp, a, b: a | b, reverse=True)


def rbitwise_xor(x: Tensor, other: Any) -> Tensor:
    """other ^ x."""
    return _bitwise(x, other, "bitwise_xor", lambda xp, a, b: a ^ b, reverse=True)


def bitwise_not(x: Tensor) -> Tensor:
    """~x: logical not of a bool tensor, bitwise not of an integer tensor."""
    if x.dtype.kind not in "biu":
        raise TypeError(f"bitwise_not: needs a bool or integer tensor, got {x.dtype.name}")
    return constant(lambda xp, a: ~a, x)


def bitwise_left_shift(x: Tensor, other: Any) -> Tensor:
    """x << other on integer tensors (bits shifted past the width are lost).

    >>> Tensor([1, 2]) << 3          # [8, 16]
    """
    return _bitwise(x, other, "bitwise_left_shift", lambda xp, a, b: a << b, kinds="iu")


def bitwise_right_shift(x: Tensor, other: Any) -> Tensor:
    """x >> other on integer tensors, arithmetic (the sign bit is kept)."""
    return _bitwise(x, other, "bitwise_right_shift", lambda xp, a, b: a >> b, kinds="iu")


def rbitwise_left_shift(x: Tensor, other: Any) -> Tensor:
    """other << x."""
    return _bitwise(x, other, "bitwise_left_shift", lambda xp, a, b: a << b,
                    reverse=True, kinds="iu")


def rbitwise_right_shift(x: Tensor, other: Any) -> Tensor:
    """other >> x."""
    return _bitwise(x, other, "bitwise_right_shift", lambda xp, a, b: a >> b,
                    reverse=True, kinds="iu")


# ---------------------------------------------------------------------- public names
_PUBLIC = {  # Tensor methods and package functions (torch.<name>)
    "eq": eq, "ne": ne, "lt": lt, "le": le, "gt": gt, "ge": ge, "isclose": isclose,
    "allclose": allclose, "isnan": isnan, "isinf": isinf, "isposinf": isposinf,
    "isneginf": isneginf, "isfinite": isfinite, "logical_not": logical_not,
    "logical_and": logical_and, "logical_or": logical_or, "logical_xor": logical_xor,
    "bitwise_and": bitwise_and, "bitwise_or": bitwise_or, "bitwise_xor": bitwise_xor,
    "bitwise_not": bitwise_not, "bitwise_left_shift": bitwise_left_shift,
    "bitwise_right_shift": bitwise_right_shift, "greater": gt, "greater_equal": ge, "less": lt,
    "less_equal": le, "not_equal": ne,
}
EXPORTS = Exports(methods=_PUBLIC, functions=_PUBLIC)
