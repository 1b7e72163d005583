"""In-place ops: `+= -= *= /=` and `add_ sub_ mul_ div_ zero_ fill_ clamp_ copy_ uniform_
normal_` (PyTorch's signatures). Each writes into the tensor's storage, so its views see the
change, and bumps the storage's version counter, so that a backward which needs the old
values raises instead of returning a wrong gradient.

Refused outside `no_grad` on a tensor that requires grad: on a leaf (as PyTorch), and on a
tensor made by a recorded op (PyTorch would record the in-place op; here it is an error with
the out-of-place spelling as the fix).
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tinygrad_nv.autograd import is_grad_enabled, no_grad
from tinygrad_nv.autograd.function import device_call
from tinygrad_nv.dtype import is_floating
from tinygrad_nv.ops import Exports
from tinygrad_nv.ops._checks import is_scalar, is_tensor
from tinygrad_nv.ops.elementwise import as_tensor_on, nan_to_num

if TYPE_CHECKING:
    from tinygrad_nv._tensor import Tensor


def check_writable(x: Tensor, op: str) -> None:
    """Raise unless `x` may be changed in place right now."""
    if not (x.requires_grad and is_grad_enabled()):
        return
    if x._ctx is None:
        raise RuntimeError(f"{op}: a leaf tensor that requires grad (shape {x.shape}) is used "
                           "in an in-place operation; wrap the update in `with no_grad():` "
                           "(as an optimizer step does)")
    raise RuntimeError(f"{op}: in-place update of a tensor made by {x._ctx.name} (shape "
                       f"{x.shape}) while its graph is recorded; use the out-of-place form "
                       "(`y = y + 1`, not `y += 1`), or update it inside `with no_grad():`")


def write(x: Tensor, value: Any, op: str, any_cast: bool = False) -> Tensor:
    """Store `value` (a Tensor broadcast to x's shape, or a number) into x's storage and bump
    its version counter; returns x. Without `any_cast`, a value of a kind x's dtype cannot
    hold (a float into an integer tensor) is refused, as PyTorch does."""
    check_writable(x, op)
    if is_tensor(value):
        if value.device != x.device:
            value = value.to(x.device)
        xp = x.backend.xp
        if not any_cast and not xp.can_cast(value.dtype, x.dtype, casting="same_kind"):
            raise RuntimeError(f"{op}: result type {value.dtype.name} can't be cast to the "
                               f"desired output type {x.dtype.name}")
        value = value._data
    try:
        device_call(x, _store, x._data, value)
    except ValueError as e:  # shapes that do not broadcast, or a read-only (expanded) view
        shape = getattr(value, "shape", ())
        raise RuntimeError(f"{op}: cannot write a value of shape {tuple(shape)} into a tensor "
                           f"of shape {x.shape} ({e}); expanded tensors are read-only, "
                           "clone() them first") from None
    x._bump_version()
    return x


def _store(xp, target, value) -> None:
    target[...] = value


def _update(x: Tensor, op: str, compute: Callable[[Tensor], Tensor]) -> Tensor:
    """x = compute(x) in place; the new values are computed without recording a graph."""
    check_writable(x, op)
    try:
        with no_grad():
            result = compute(x.detach())
    except (ValueError, TypeError) as e:  # e.g. an operand that does not broadcast
        raise type(e)(f"{op}: {e}") from None
    if result.shape != x.shape:
        raise RuntimeError(f"{op}: the result has shape {result.shape}, which does not match "
                           f"the shape of the tensor updated in place {x.shape}")
    return write(x, result, op)


def in_place(fn: Callable[..., Tensor], op: str) -> Callable[..., Tensor]:
    """The in-place variant `op` of the op `fn(x, ...)`: fn's result on x's values, written
    into x (`x.masked_fill_(mask, 0)`, as PyTorch's); returns x."""
    def variant(x: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        return _update(x, op, lambda t: fn(t, *args, **kwargs))
    variant.__name__ = variant.__qualname__ = op
    variant.__doc__ = f"{fn.__name__}, in place: writes the result into x; returns x."
    return variant


def _check_alpha(alpha: Any, op: str) -> None:
    if not is_scalar(alpha):
        raise TypeError(f"{op}: alpha must be a number, got {type(alpha).__name__}")


# ---------------------------------------------------------------------- functions
def add_(x: Tensor, other: Any, *, alpha: Any = 1) -> Tensor:
    """x += alpha * other, in place; returns x."""
    _check_alpha(alpha, "add_")
    return _update(x, "add_", lambda t: t + (other if alpha == 1 else other * alpha))


def sub_(x: Tensor, other: Any, *, alpha: Any = 1) -> Tensor:
    """x -= alpha * other, in place; returns x."""
    _check_alpha(alpha, "sub_")
    return _update(x, "sub_", lambda t: t - (other if alpha == 1 else other * alpha))


def mul_(x: Tensor, other: Any) -> Tensor:
    """x *= other, in place; returns x."""
    return _update(x, "mul_", lambda t: t * other)


def div_(x: Tensor, other: Any, *, rounding_mode: str | None = None) -> Tensor:
    """x /= other, in place; `rounding_mode` "trunc" or "floor" rounds the quotient (which
    lets an integer tensor be divided in place); returns x."""
    if rounding_mode not in (None, "trunc", "floor"):
        raise ValueError(f"div_: rounding_mode must be None, 'trunc' or 'floor', got "
                         f"{rounding_mode!r}")
    if rounding_mode is None:
        return _update(x, "div_", lambda t: t / other)
    rounded = getattr(x.backend.xp, rounding_mode)
    return _update(x, "div_", lambda t: t._like(rounded((t / other)._data)).cast(x.dtype))


def iadd(x: Tensor, other: Any) -> Tensor:
    return _update(x, "+=", lambda t: t + other)


def isub(x: Tensor, other: Any) -> Tensor:
    return _update(x, "-=", lambda t: t - other)


def imul(x: Tensor, other: Any) -> Tensor:
    return _update(x, "*=", lambda t: t * other)


def itruediv(x: Tensor, other: Any) -> Tensor:
    return _update(x, "/=", lambda t: t / other)


def zero_(x: Tensor) -> Tensor:
    """Fill with zeros, in place; returns x."""
    return write(x, 0, "zero_")


def fill_(x: Tensor, value: Any) -> Tensor:
    """Fill with `value` (a number or a one-element tensor), in place; returns x."""
    if is_tensor(value):
        if value.ndim != 0:
            raise RuntimeError(f"fill_: only supports 0-dimension value tensors, got shape "
                               f"{value.shape}")
        value = value.item()
    if not is_scalar(value):
        raise TypeError(f"fill_: value must be a number, got {type(value).__name__}")
    return write(x, value, "fill_")


def clamp_(x: Tensor, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
    """Clamp to [min, max], in place; returns x."""
    return _update(x, "clamp_", lambda t: t.clamp(min, max))


def copy_(x: Tensor, src: Any, non_blocking: bool = False) -> Tensor:
    """Copy `src` (broadcast to x's shape, converted to x's dtype and device) into x;
    returns x."""
    if not is_tensor(src):
        src = as_tensor_on(x, src)
    return write(x, src.detach(), "copy_", any_cast=True)


def uniform_(x: Tensor, *bounds: float, generator: Any = None, **names: float) -> Tensor:
    """Fill with samples uniform in [from, to) (default [0, 1)), in place:
    `x.uniform_(-1, 1)` or `x.uniform_(to=2)` (drawn from `generator` when given); returns
    x."""
    low, high = _pair(bounds, names, ("from", "to"), (0.0, 1.0), "uniform_")
    if low > high:
        raise RuntimeError(f"uniform_: expects to return a [from, to) range, but found "
                           f"from={low} > to={high}")
    _check_float(x, "uniform_")
    sample = type(x).uniform(*x.shape, low=low, high=high, dtype=x.dtype, device=x.device,
                             generator=generator)
    return write(x, sample, "uniform_")


def normal_(x: Tensor, mean: float = 0.0, std: float = 1.0, *, generator: Any = None
            ) -> Tensor:
    """Fill with normal samples of the given mean and standard deviation, in place (drawn
    from `generator` when given); returns x."""
    for name, value in (("mean", mean), ("std", std)):
        if not is_scalar(value):
            raise TypeError(f"normal_: {name} must be a number, got {type(value).__name__}")
    if std < 0:
        raise RuntimeError(f"normal_: expects std >= 0.0, but found std {std}")
    _check_float(x, "normal_")
    sample = type(x).randn(*x.shape, dtype=x.dtype, device=x.device, generator=generator)
    return write(x, sample * std + mean, "normal_")


def _check_float(x: Tensor, op: str) -> None:
    if not is_floating(x.dtype):
        raise RuntimeError(f"{op}: only floating point tensors can be filled with random "
                           f"samples, got {x.dtype.name}")


def _pair(args: tuple, names: dict, keys: tuple, defaults: tuple, op: str) -> tuple:
    """Two numbers given positionally and/or by name (PyTorch's `from`, `to`)."""
    unknown = set(names) - set(keys)
    if len(args) > 2 or unknown:
        raise TypeError(f"{op}: takes ({keys[0]}, {keys[1]}), got {len(args)} positional "
                        f"arguments and {sorted(names)}")
    values = list(args) + [names.get(k, d) for k, d in zip(keys[len(args):],
                                                         defaults[len(args):])]
    for key, value in zip(keys, values):
        if not isinstance(value, numbers.Real) or isinstance(value, bool):
            raise TypeError(f"{op}: {key} must be a number, got {type(value).__name__}")
    return float(values[0]), float(values[1])


# ---------------------------------------------------------------------- public names
EXPORTS = Exports(methods={  # Tensor methods
    "add_": add_, "sub_": sub_, "mul_": mul_, "div_": div_, "zero_": zero_, "fill_": fill_,
    "clamp_": clamp_, "clip_": clamp_, "copy_": copy_, "uniform_": uniform_, "normal_": normal_,
    "nan_to_num_": in_place(nan_to_num, "nan_to_num_"),
})
