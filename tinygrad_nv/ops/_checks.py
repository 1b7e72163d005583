"""Argument helpers every kind of op shares: scalars, ints, axes, shapes, tensor lists.
NumPy appears here for its scalar types and shape arithmetic only, never for arrays."""

from __future__ import annotations

import numbers
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from tinygrad_nv._tensor import Tensor

Shape = tuple[int, ...]


class ShapeError(ValueError, RuntimeError):
    """Shapes an op cannot combine: a ValueError, and the RuntimeError PyTorch raises (as
    NumPy's AxisError is both a ValueError and an IndexError)."""


def is_scalar(x: Any) -> bool:
    """A Python or NumPy number (bool included, complex excluded)."""
    return isinstance(x, (numbers.Number, np.bool_)) and not isinstance(x, complex)


def is_int(x: Any) -> bool:
    """A Python or NumPy integer that is not a bool."""
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def is_tensor(x: Any) -> bool:
    """Whether x is a Tensor (ops stand below tensor.py, so they cannot import the class)."""
    return hasattr(x, "_ctx") and hasattr(x, "_backend")


def tensor_arg(x: Any, op: str, name: str) -> Any:
    """x if it is a Tensor, else a TypeError naming op and the argument, as torch."""
    if not is_tensor(x):
        raise TypeError(f"{op}: argument '{name}' must be a Tensor, got {type(x).__name__}")
    return x


def number_arg(x: Any, op: str, name: str) -> float:
    """x as a float if it is a real number, else a TypeError naming op and the argument."""
    if not is_scalar(x):
        raise TypeError(f"{op}: {name} must be a number, got {type(x).__name__}")
    return float(x)


def check_device(a: Tensor, b: Tensor, op: str) -> None:
    """Both tensors on one device, or a RuntimeError naming both."""
    if b._backend is not a._backend:
        raise RuntimeError(f"{op}: tensors are on different devices ({a.device} and "
                           f"{b.device}); move one with .to(device)")


def axis(x: Tensor, axis: Any, op: str) -> int:
    """One axis of x, negative allowed, as a non-negative int (0-d tensors have axis 0)."""
    ndim = max(x.ndim, 1)
    if not is_int(axis):
        raise TypeError(f"{op}: axis must be an int, got {type(axis).__name__}")
    if not -ndim <= axis < ndim:
        raise IndexError(f"{op}: axis {axis} is out of range for a tensor of shape "
                         f"{tuple(x.shape)} (valid: {-ndim} to {ndim - 1})")
    return int(axis) % ndim


_REQUIRED = object()


def dim_or_axis(dim: Any, axis: Any, op: str, default: Any = _REQUIRED) -> Any:
    """The axis argument of an op, given as `dim` (PyTorch's name) or `axis` (NumPy's):
    both given is a TypeError; neither gives `default` (a TypeError where there is none)."""
    if axis is None:
        if dim is None and default is _REQUIRED:
            raise TypeError(f"{op}: missing the axis to work along (dim= or axis=)")
        return default if dim is None else dim
    if dim is not None:
        raise TypeError(f"{op}: got dim={dim!r} and axis={axis!r}; axis is another name for "
                        "dim, give one")
    return axis


def axes(x: Tensor, axis_: Any, dim: Any, op: str) -> tuple[int, ...]:
    """`axis` (or its alias `dim`): None for all, an int or a tuple, as sorted axes."""
    chosen = dim_or_axis(dim, axis_, op, None)
    if chosen is None:
        return tuple(range(x.ndim))
    given = chosen if isinstance(chosen, (tuple, list)) else (chosen,)
    normalized = tuple(sorted(axis(x, a, op) for a in given))
    if len(set(normalized)) != len(normalized):
        raise ValueError(f"{op}: axis {chosen} repeats an axis")
    return tuple(a for a in normalized if a < x.ndim)


def shape_arg(shape: tuple, op: str, allow_minus_one: bool = False) -> Shape:
    """Shapes given as (2, 3) or ((2, 3),) or ([2, 3],) as a tuple of ints, validated."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    for n in shape:
        if not is_int(n):
            raise TypeError(f"{op}: shape must be ints, got {shape}")
        if n < 0 and not (allow_minus_one and n == -1):
            raise ValueError(f"{op}: negative dimension in shape {shape}")
    return tuple(int(n) for n in shape)


def broadcast_shapes(*shapes: Shape) -> Shape:
    """NumPy's broadcast of shapes (ValueError when they do not broadcast)."""
    return tuple(np.broadcast_shapes(*shapes))


def tensor_list(tensors: tuple, op: str) -> list[Tensor]:
    """`f(a, b)` or `f([a, b])` arguments as a non-empty list of Tensors."""
    if tensors and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0]) + tuple(tensors[1:])
    if not tensors:
        raise ValueError(f"{op}: needs at least one tensor")
    for t in tensors:
        if not is_tensor(t):
            raise TypeError(f"{op}: expected Tensors, got {type(t).__name__}")
    return list(tensors)


def tensors_and_dim(tensors: tuple, dim: Any, op: str) -> tuple[list[Tensor], Any]:
    """`f(a, b, dim=d)`, `f([a, b], dim=d)` or PyTorch's `f([a, b], d)` (cat, stack) as the
    list of Tensors and the dim."""
    if len(tensors) == 2 and isinstance(tensors[0], (list, tuple)) and is_int(tensors[1]):
        tensors, dim = tensors[:1], tensors[1]
    return tensor_list(tensors, op), dim
