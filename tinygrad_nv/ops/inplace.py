"""In-place ops: `+= -= *= /=`, `add_ sub_ mul_ div_ zero_ fill_ clamp_ copy_ uniform_
normal_ ...` (PyTorch's signatures), `name_` for the ops of `VARIANTS`, and the comparisons
`eq_ ne_ lt_ le_ gt_ ge_ ...` (0 or 1 in the tensor's dtype). Each writes into the
tensor's storage, so its views see the change, and bumps the storage's version counter, so
that a backward which needs the old values raises instead of returning a wrong gradient.

Where grad mode is on and the tensor or an operand requires grad, the op is recorded as
PyTorch records it: the new values are computed by the out-of-place op from a stand-in that
holds a copy of the old values and the old history, then written into the tensor, which takes
the op's node as its history (`h = zeros(3); h += w` makes h require grad). A node that used
the tensor before the change sends its gradient to the stand-in (autograd.versions.as_used),
or raises at backward where it reads the old values. A view of a tensor something else still
holds (a slice, a reshape) is refused: updating the base's history through a view (PyTorch's
CopySlices) is not done; clone() it first.
A leaf that requires grad is refused outside `no_grad`, as in PyTorch.
"""

from __future__ import annotations

import numbers
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tinygrad_nv.autograd import Function, is_grad_enabled, no_grad
from tinygrad_nv.autograd.function import device_call, retyped
from tinygrad_nv.autograd.versions import rebase
from tinygrad_nv.dtype import is_floating
from tinygrad_nv.ops import Exports, logic
from tinygrad_nv.ops._checks import is_scalar, is_tensor
from tinygrad_nv.ops.elementwise import as_tensor_on, nan_to_num, unbroadcast
from tinygrad_nv.ops.pointwise import float_power

if TYPE_CHECKING:
    from tinygrad_nv._tensor import Tensor


class Overwrite(Function):
    """`value` broadcast to x's shape and dtype: what copy_, fill_ and zero_ record. x gets a
    zero gradient, value the gradient summed to its shape."""

    saved_inputs = ()  # backward reads shapes only

    def forward(self, x, value):
        return self.xp.broadcast_to(value, x.shape).astype(x.dtype)

    def backward(self, g):
        zeros = g._like(self.xp.zeros_like(g._data)) if self.needs_input_grad[0] else None
        value = self.parents[1]
        return zeros, unbroadcast(g, value.shape) if self.needs_input_grad[1] else None


def recorded(x: Tensor, operands: tuple) -> bool:
    """Whether changing x in place with `operands` is recorded: grad mode is on, x or an
    operand requires grad, and x can hold a gradient (a float tensor)."""
    if not is_grad_enabled():
        return False
    if x._requires_grad or any(getattr(a, "_requires_grad", False) for a in operands):
        return is_floating(x.dtype)
    return False


def write(x: Tensor, value: Any, op: str, any_cast: bool = False) -> Tensor:
    """Store `value` (a Tensor broadcast to x's shape, or a number) into x's storage and bump
    its version counter; returns x. Without `any_cast`, a value of a kind x's dtype cannot
    hold (a float into an integer tensor) is refused, as PyTorch does. Recorded (x gets a zero
    gradient, value its share) where grad mode is on and either requires grad."""
    if is_tensor(value) and value.device != x.device:
        value = value.to(x.device)
    if recorded(x, (value,)):
        value = as_value(x, value)
        return _rebase(x, op, lambda old: Overwrite.apply(old, value), any_cast)
    return _store(x, value, op, any_cast)


def as_value(x: Tensor, value: Any) -> Tensor:
    """`value` as a tensor on x's device: a tensor as it is, a number in x's dtype."""
    if is_tensor(value):
        return value
    return x._like(device_call(x, lambda xp: xp.asarray(value, dtype=x.dtype)))


def _store(x: Tensor, value: Any, op: str, any_cast: bool) -> Tensor:
    """write, unrecorded."""
    if is_tensor(value):
        _check_cast(x, value, op, any_cast)
        value = value._data
    try:
        device_call(x, _assign, x._data, value)
    except ValueError as e:  # shapes that do not broadcast, or a read-only (expanded) view
        shape = getattr(value, "shape", ())
        raise RuntimeError(f"{op}: cannot write a value of shape {tuple(shape)} into a tensor "
                           f"of shape {tuple(x.shape)} ({e}); expanded tensors are read-only, "
                           "clone() them first") from None
    x._bump_version()
    return x


def _assign(xp, target, value) -> None:
    target[...] = value


def _copy(xp, array):
    return array.copy()


def _check_cast(x: Tensor, value: Tensor, op: str, any_cast: bool) -> None:
    if not any_cast and not x.backend.xp.can_cast(value.dtype, x.dtype, casting="same_kind"):
        raise RuntimeError(f"{op}: result type {value.dtype.name} can't be cast to the "
                           f"desired output type {x.dtype.name}")


def _check_shape(x: Tensor, result: Tensor, op: str) -> None:
    if result.shape != x.shape:
        raise RuntimeError(f"{op}: the result has shape {tuple(result.shape)}, which does not "
                           f"match the shape of the tensor updated in place {tuple(x.shape)}")


def update(x: Tensor, op: str, compute: Callable[[Tensor], Tensor], operands: tuple = ()
           ) -> Tensor:
    """x = compute(x) in place, where `operands` are the other inputs of compute; recorded
    where grad mode is on and x or an operand requires grad, else computed without a graph."""
    if recorded(x, operands):
        return _rebase(x, op, compute)
    try:
        with no_grad():
            result = compute(x.detach())
    except (ValueError, TypeError) as e:  # e.g. an operand that does not broadcast
        raise retyped(e, f"{op}: {e}") from None
    _check_shape(x, result, op)
    return _store(x, result, op, False)


def _rebase(x: Tensor, op: str, compute: Callable[[Tensor], Tensor], any_cast: bool = False
            ) -> Tensor:
    """update, recorded: compute runs on a stand-in for x (a copy of its values, its history),
    since the node it records may read those values in backward; the result is written into
    x, which takes the result's node as its history."""
    if x._requires_grad and x._ctx is None:
        raise RuntimeError(f"{op}: a leaf tensor that requires grad (shape {tuple(x.shape)}) is "
                           f"used in an in-place operation; wrap the update in `with no_grad():` "
                           "(as an optimizer step does)")
    if _views_another(x):
        raise RuntimeError(f"{op}: in-place update, while the graph is recorded, of a tensor "
                           f"of shape {tuple(x.shape)} that views another tensor's storage (a "
                           "slice, reshape or transpose): not supported; clone() it first, or "
                           "use the out-of-place form (`y = y + 1`, not `y += 1`)")
    old = x._from_op(device_call(x, _copy, x._data), x._backend, x._ctx)
    old._requires_grad = x._requires_grad
    try:
        result = compute(old)
    except (ValueError, TypeError) as e:
        raise retyped(e, f"{op}: {e}") from None
    _check_shape(x, result, op)
    if result.dtype != x.dtype and result._ctx is not None:
        _check_cast(x, result, op, any_cast)
        result = result.cast(x.dtype)
    _store(x, result, op, any_cast)
    if result._ctx is not None:  # else no gradient flows (logical_not_): x keeps its history
        rebase(x, result._ctx, old)
    return x


def _views_another(x: Tensor) -> bool:
    """Whether x's storage is another live tensor's, as far as the graph tells: a view of (or
    the array of) an input of the op that made x that something besides that op still holds
    (a layer's internal intermediate, such as Linear's 2-D product under its 3-D view, is
    held by the view's node alone: nothing else can read it); for a leaf, any view."""
    data = x._data
    if x._ctx is None:
        return data.base is not None
    storage = data if data.base is None else data.base
    for p in getattr(x._ctx, "parents", ()):
        # references: the node's parents, this loop's name and getrefcount's argument
        if (p._data is storage or p._data.base is storage) and sys.getrefcount(p) > 3:
            return True
    return False


def functional_update(x: Tensor, op: str, compute: Callable[[Tensor], Tensor]) -> Tensor:
    """nn.functional's `inplace=True` (F.relu(x, inplace=True), nn.ReLU(inplace=True)): update,
    except for a recorded change of a view of a tensor something else holds (which update
    refuses), where the result is a new tensor."""
    if recorded(x, ()) and _views_another(x):
        return compute(x)
    return update(x, op, compute)


def in_place(fn: Callable[..., Tensor], op: str) -> Callable[..., Tensor]:
    """The in-place variant `op` of the op `fn(x, ...)`: fn's result on x's values, written
    into x (`x.masked_fill_(mask, 0)`, as PyTorch's); returns x."""
    def variant(x: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        return update(x, op, lambda t: fn(t, *args, **kwargs), args + tuple(kwargs.values()))
    variant.__name__ = variant.__qualname__ = op
    variant.__doc__ = f"{fn.__name__}, in place: writes the result into x; returns x."
    return variant


# the ops whose in-place variant `name_` is in_place(Tensor.name): bound where Tensor is made
VARIANTS = ("relu sigmoid tanh exp log sqrt rsqrt abs neg pow floor ceil round trunc sign "
            "reciprocal square sin cos erf frac fmod remainder floor_divide atan2 lerp tril triu "
            "logical_not absolute negative acos arccos asin arcsin atan arctan acosh arccosh "
            "asinh arcsinh atanh arctanh cosh sinh tan log1p log2 log10 expm1 exp2 erfc erfinv "
            "lgamma digamma polygamma hypot copysign xlogy arctan2 cumsum cumprod fix "
            "logical_and logical_or logical_xor bitwise_and bitwise_or bitwise_xor bitwise_not "
            "bitwise_left_shift bitwise_right_shift deg2rad rad2deg ldexp nextafter heaviside "
            "addmm baddbmm addmv addr addbmm sgn").split()


def compared(op: str, compare: Callable[[Tensor, Any], Tensor]) -> Callable[..., Tensor]:
    """The in-place comparison `op` (`x.eq_(other)`): 1 where compare(x, other) holds, else 0,
    written in x's dtype; x's gradient is 0 from there on, as PyTorch's; returns x."""
    def variant(x: Tensor, other: Any) -> Tensor:
        return write(x, compare(x.detach(), other), op, any_cast=True)
    variant.__name__ = variant.__qualname__ = op
    variant.__doc__ = f"{compare.__name__}, in place: 1 where it holds, else 0, in x's dtype."
    return variant


_COMPARISONS = {"eq": logic.eq, "ne": logic.ne, "lt": logic.lt, "le": logic.le, "gt": logic.gt,
                "ge": logic.ge, "greater": logic.gt, "greater_equal": logic.ge, "less": logic.lt,
                "less_equal": logic.le, "not_equal": logic.ne}


def float_power_(x: Tensor, exponent: Any) -> Tensor:
    """float_power in place: x must be float64 (the result's dtype), as PyTorch; returns x."""
    if x.dtype.name != "float64":
        raise RuntimeError(f"float_power_: the base given to float_power_ has dtype "
                           f"{x.dtype.name} but the operation's result requires dtype float64")
    return update(x, "float_power_", lambda t: float_power(t, exponent), (exponent,))


def _check_alpha(alpha: Any, op: str) -> None:
    if not is_scalar(alpha):
        raise TypeError(f"{op}: alpha must be a number, got {type(alpha).__name__}")


def _scaled(t: Any, factor: Any) -> Any:
    return t if factor == 1 else t * factor


# ---------------------------------------------------------------------- functions
def add_(x: Tensor, other: Any, *, alpha: Any = 1) -> Tensor:
    """x += alpha * other, in place; returns x."""
    _check_alpha(alpha, "add_")
    return update(x, "add_", lambda t: t + _scaled(other, alpha), (other,))


def sub_(x: Tensor, other: Any, *, alpha: Any = 1) -> Tensor:
    """x -= alpha * other, in place; returns x."""
    _check_alpha(alpha, "sub_")
    return update(x, "sub_", lambda t: t - _scaled(other, alpha), (other,))


def mul_(x: Tensor, other: Any) -> Tensor:
    """x *= other, in place; returns x."""
    return update(x, "mul_", lambda t: t * other, (other,))


def div_(x: Tensor, other: Any, *, rounding_mode: str | None = None) -> Tensor:
    """x /= other, in place; `rounding_mode` "trunc" or "floor" rounds the quotient (which
    lets an integer tensor be divided in place); returns x."""
    if rounding_mode not in (None, "trunc", "floor"):
        raise ValueError(f"div_: rounding_mode must be None, 'trunc' or 'floor', got "
                         f"{rounding_mode!r}")
    return update(x, "div_", lambda t: t.div(other, rounding_mode=rounding_mode), (other,))


def addcmul_(x: Tensor, tensor1: Any, tensor2: Any, *, value: Any = 1) -> Tensor:
    """x += value * tensor1 * tensor2, in place; returns x."""
    _check_alpha(value, "addcmul_")
    return update(x, "addcmul_", lambda t: t + _scaled(tensor1 * tensor2, value),
                  (tensor1, tensor2))


def addcdiv_(x: Tensor, tensor1: Any, tensor2: Any, *, value: Any = 1) -> Tensor:
    """x += value * tensor1 / tensor2, in place; returns x."""
    _check_alpha(value, "addcdiv_")
    return update(x, "addcdiv_", lambda t: t + _scaled(tensor1 / tensor2, value),
                  (tensor1, tensor2))


def iadd(x: Tensor, other: Any) -> Tensor:
    return update(x, "+=", lambda t: t + other, (other,))


def isub(x: Tensor, other: Any) -> Tensor:
    return update(x, "-=", lambda t: t - other, (other,))


def imul(x: Tensor, other: Any) -> Tensor:
    return update(x, "*=", lambda t: t * other, (other,))


def itruediv(x: Tensor, other: Any) -> Tensor:
    return update(x, "/=", lambda t: t / other, (other,))


def zero_(x: Tensor) -> Tensor:
    """Fill with zeros, in place; returns x."""
    return write(x, 0, "zero_")


def fill_(x: Tensor, value: Any) -> Tensor:
    """Fill with `value` (a number or a 0-d tensor, whose gradient is the sum of x's), in
    place; returns x."""
    if is_tensor(value):
        if value.ndim != 0:
            raise RuntimeError(f"fill_: only supports 0-dimension value tensors, got shape "
                               f"{tuple(value.shape)}")
    elif not is_scalar(value):
        raise TypeError(f"fill_: value must be a number, got {type(value).__name__}")
    return write(x, value, "fill_", any_cast=True)


def clamp_(x: Tensor, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
    """Clamp to [min, max], in place; returns x."""
    return update(x, "clamp_", lambda t: t.clamp(min, max), (min, max))


def clamp_min_(x: Tensor, min: Any) -> Tensor:  # noqa: A002
    """Clamp to [min, inf), in place; returns x."""
    return update(x, "clamp_min_", lambda t: t.clamp(min, None), (min,))


def clamp_max_(x: Tensor, max: Any) -> Tensor:  # noqa: A002
    """Clamp to (-inf, max], in place; returns x."""
    return update(x, "clamp_max_", lambda t: t.clamp(None, max), (max,))


def copy_(x: Tensor, src: Any, non_blocking: bool = False) -> Tensor:
    """Copy `src` (broadcast to x's shape, converted to x's dtype and device) into x; src
    gets x's gradient (summed to its shape) where it requires grad; returns x."""
    if not is_tensor(src):
        src = as_tensor_on(x, src)
    return write(x, src, "copy_", any_cast=True)


def detach_(x: Tensor) -> Tensor:
    """Cut x from the graph that made it, in place: x becomes a leaf that does not require
    grad; returns x."""
    x._ctx, x._requires_grad = None, False
    return x


def share_memory_(x: Tensor) -> Tensor:
    """PyTorch moves the storage to shared memory for worker processes; here a no-op
    (tensors reach DataLoader workers by value); returns x."""
    return x


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


def bernoulli_(x: Tensor, p: Any = 0.5, *, generator: Any = None) -> Tensor:
    """Fill with 1 where a uniform draw falls below `p` (a probability, or a tensor of them
    that broadcasts to x), else 0, in place; returns x."""
    if is_scalar(p):
        if not 0 <= p <= 1:
            raise RuntimeError(f"bernoulli_: expects 0 <= p <= 1, got p={p}")
    elif not is_tensor(p):
        raise TypeError(f"bernoulli_: p must be a number or a tensor, got {type(p).__name__}")
    dtype = x.dtype if is_floating(x.dtype) else "float32"
    draw = type(x).rand(*x.shape, dtype=dtype, device=x.device, generator=generator)
    return write(x, draw < p, "bernoulli_", any_cast=True)


def bernoulli(x: Tensor, p: Any = None, *, generator: Any = None) -> Tensor:
    """0 or 1 in x's (floating) dtype, 1 with probability x (or with probability `p`, a number
    or a tensor that broadcasts), drawn from the device's generator (or `generator`), as
    torch.bernoulli. No gradient.

    >>> Tensor([0.0, 1.0]).bernoulli()        # [0.0, 1.0]
    """
    if not is_floating(x.dtype):
        raise TypeError(f"bernoulli: expects a floating tensor, got {x.dtype.name}")
    probs = x if p is None else p
    if is_tensor(probs) and not bool(((probs >= 0) & (probs <= 1)).all()):
        raise RuntimeError("bernoulli: expects all probabilities in [0, 1]")
    with no_grad():
        return bernoulli_(x.detach().clone(), probs.detach() if is_tensor(probs) else probs,
                          generator=generator)


def exponential_(x: Tensor, lambd: float = 1.0, *, generator: Any = None) -> Tensor:
    """Fill with samples of the exponential distribution of rate `lambd`, in place; returns
    x."""
    if not is_scalar(lambd) or not lambd > 0:
        raise RuntimeError(f"exponential_: expects lambd > 0.0, got lambd={lambd}")
    _check_float(x, "exponential_")
    draw = type(x).rand(*x.shape, dtype=x.dtype, device=x.device, generator=generator)
    return write(x, (1 - draw).log() / -lambd, "exponential_")  # 1 - u lies in (0, 1]


_MANTISSA = {"float16": 11, "bfloat16": 8, "float32": 24, "float64": 53}


def random_(x: Tensor, *bounds: int, to: int | None = None, generator: Any = None) -> Tensor:
    """Fill with integers drawn uniformly from [from, to): `random_(from, to)`,
    `random_(to)`, or `random_()` for [0, 2**mantissa] (floats) or [0, the dtype's max]
    (integers), as PyTorch's; returns x."""
    bounds += () if to is None else (to,)
    if len(bounds) > 2:
        raise TypeError(f"random_: takes (from, to), (to) or (), got {bounds}")
    low, high = (0, None) if not bounds else (0, bounds[0]) if len(bounds) == 1 else bounds
    if high is None:
        name = x.dtype.name
        high = 2 ** _MANTISSA[name] + 1 if name in _MANTISSA else 2 if name == "bool" else \
            int(x.backend.xp.iinfo(x.dtype).max)
    if not (is_scalar(low) and is_scalar(high)) or low >= high:
        raise RuntimeError(f"random_: expects from < to, got from={low} and to={high}")
    draw = type(x).randint(int(low), int(high), x.shape, device=x.device, generator=generator)
    return write(x, draw, "random_", any_cast=True)


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


def reshaped(op: str) -> Callable[..., Tensor]:
    """The in-place shape change `op` (`x.unsqueeze_(0)`, `x.t_()`): x becomes the view that
    the method named op without its "_" gives, over the same storage; returns x. Where the
    change would be recorded, a leaf is refused as PyTorch refuses it, and so is a tensor with
    a history (PyTorch rewrites that history; here use the out-of-place form)."""
    view = op[:-1]

    def variant(x: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        if recorded(x, ()):
            what = "a leaf tensor that requires grad" if x._ctx is None else \
                "a tensor computed in a recorded graph"
            raise RuntimeError(f"{op}: {what} (shape {tuple(x.shape)}) cannot change shape in "
                               f"place; use the out-of-place form (x = x.{view}(...)), or "
                               "wrap the change in `with no_grad():`")
        x._data = getattr(x.detach(), view)(*args, **kwargs)._data
        x._bump_version()
        return x
    variant.__name__ = variant.__qualname__ = op
    return variant


# ---------------------------------------------------------------------- public names
EXPORTS = Exports(methods={  # Tensor methods
    "add_": add_, "sub_": sub_, "mul_": mul_, "div_": div_, "zero_": zero_, "fill_": fill_,
    "clamp_": clamp_, "clip_": clamp_, "copy_": copy_, "uniform_": uniform_, "normal_": normal_,
    "nan_to_num_": in_place(nan_to_num, "nan_to_num_"), "multiply_": mul_, "divide_": div_,
    "subtract_": sub_, "true_divide_": div_, "addcmul_": addcmul_, "addcdiv_": addcdiv_,
    "clamp_min_": clamp_min_, "clamp_max_": clamp_max_, "detach_": detach_,
    "share_memory_": share_memory_, "bernoulli_": bernoulli_, "exponential_": exponential_,
    "random_": random_, "bernoulli": bernoulli, "float_power_": float_power_,
    **{f"{name}_": compared(f"{name}_", fn) for name, fn in _COMPARISONS.items()},
    **{op: reshaped(op) for op in ("unsqueeze_", "squeeze_", "t_", "transpose_", "swapaxes_",
                                   "swapdims_")},
}, functions={"bernoulli": bernoulli})
