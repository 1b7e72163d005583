"""Activations and softmax. Forward and backward run the backend's fused kernels; the
backward's own backward (for create_graph) is written with Tensor operations."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from tinygrad_nv.autograd import Function, is_grad_enabled
from tinygrad_nv.autograd.autocast_state import autocast_op
from tinygrad_nv.dtype import is_floating
from tinygrad_nv.ops import Exports, with_inplace
from tinygrad_nv.ops._checks import axis as check_axis
from tinygrad_nv.ops._checks import dim_or_axis, number_arg
from tinygrad_nv.ops.unary import floating

if TYPE_CHECKING:
    from tinygrad_nv._tensor import Tensor


class Activation(Function):
    """y = act(x) through `kernels.act_forward`; subclasses name the activation and give its
    second derivative as Tensor operations (used only when differentiating twice)."""

    act = "identity"

    def forward(self, x, param: float = 0.0):
        self.param = param
        return self.kernels.act_forward(self.act, x, param)

    def backward(self, g):
        x = self.parents[0]
        if not is_grad_enabled():  # backward records no graph: the fused kernel directly
            return g._like(self.kernels.act_backward(self.act, x._data, g._data, self.param))
        return ActivationGrad.apply(x, g, activation=type(self), param=self.param)

    @staticmethod
    def second_derivative(x, param: float):
        return x * 0


class ActivationGrad(Function):
    """g * act'(x) in one fused kernel; its backward is what double backward needs."""

    def forward(self, x, g, activation: type[Activation], param: float):
        self.activation, self.param = activation, param
        return self.kernels.act_backward(activation.act, x, g, param)

    def backward(self, gg):
        x, g = self.parents
        gx = gg * g * self.activation.second_derivative(x, self.param) \
            if self.needs_input_grad[0] else None
        gg_act = ActivationGrad.apply(x, gg, activation=self.activation, param=self.param) \
            if self.needs_input_grad[1] else None
        return gx, gg_act


class Identity(Activation):
    act = "identity"


class Relu(Activation):
    act = "relu"
    save_output = True  # PyTorch differentiates it from the output: guarded as there


class LeakyRelu(Activation):
    act = "leaky_relu"


class Sigmoid(Activation):
    act = "sigmoid"
    save_output = True  # PyTorch differentiates it from the output: guarded as there

    @staticmethod
    def second_derivative(x, param):
        s = x.sigmoid()
        return s * (1 - s) * (1 - 2 * s)


class Tanh(Activation):
    act = "tanh"
    save_output = True  # PyTorch differentiates it from the output: guarded as there

    @staticmethod
    def second_derivative(x, param):
        t = x.tanh()
        return -2 * t * (1 - t * t)


class Gelu(Activation):
    """Exact GELU, x * Phi(x). Forward keeps what the backend's gelu_backward takes beside x
    (NumPy: Phi(x), so the graph-free backward evaluates no erf)."""

    act = "gelu"

    def forward(self, x, param: float = 0.0):
        self.param = param
        y, self.saved = self.kernels.gelu(x)
        return y

    def backward(self, g):
        if not is_grad_enabled():
            x = self.parents[0]
            return g._like(self.kernels.gelu_backward(x._data, self.saved, g._data))
        return super().backward(g)

    @staticmethod
    def second_derivative(x, param):
        pdf = (-0.5 * x * x).exp() * (1 / math.sqrt(2 * math.pi))
        return pdf * (2 - x * x)


class GeluTanh(Activation):
    """GELU's tanh approximation, 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""

    act = "gelu_tanh"

    @staticmethod
    def second_derivative(x, param):
        c, k = math.sqrt(2 / math.pi), 0.044715
        t = (c * (x + k * x * x * x)).tanh()
        du = c * (1 + 3 * k * x * x)
        sech2 = 1 - t * t
        return sech2 * du + 0.5 * x * (-2 * t * sech2 * du * du + sech2 * (6 * c * k * x))


class Silu(Activation):
    act = "silu"

    @staticmethod
    def second_derivative(x, param):
        s = x.sigmoid()
        return s * (1 - s) * (2 + x * (1 - 2 * s))


class Softplus(Activation):
    """log(1 + exp(beta x)) / beta, linear where beta x > 20 (PyTorch's threshold)."""

    act = "softplus"

    @staticmethod
    def second_derivative(x, param):
        s = (x * param).sigmoid()
        return (x * param > 20).where(0.0, param * s * (1 - s))


class Elu(Activation):
    act = "elu"

    @staticmethod
    def second_derivative(x, param):
        return (x > 0).where(0.0, param * x.exp())


def _rows(xp, x, axis: int):
    """x with `axis` moved last, as a contiguous 2-D array of rows."""
    moved = xp.moveaxis(x, axis, -1)
    return xp.ascontiguousarray(moved.reshape(-1, moved.shape[-1])), moved.shape


def _unrows(xp, rows, moved_shape: tuple, axis: int):
    return xp.moveaxis(rows.reshape(moved_shape), -1, axis)


class Softmax(Function):
    """softmax (or log_softmax when log=True) along one axis, max-subtracted."""

    saved_inputs = ()  # backward reads the output, not the input
    save_output = True

    def forward(self, x, axis: int, log: bool):
        self.axis, self.log = axis, log
        rows, moved_shape = _rows(self.xp, x, axis)
        return _unrows(self.xp, self.kernels.softmax(rows, log), moved_shape, axis)

    def backward(self, g):
        return SoftmaxGrad.apply(self.output(), g, axis=self.axis, log=self.log)


class SoftmaxGrad(Function):
    """The input gradient of softmax / log_softmax from its output y, fused."""

    def forward(self, y, g, axis: int, log: bool):
        self.axis, self.log = axis, log
        y_rows, moved_shape = _rows(self.xp, y, axis)
        g_rows, _ = _rows(self.xp, g, axis)
        dx = self.kernels.softmax_backward(y_rows, g_rows, log)
        return _unrows(self.xp, dx, moved_shape, axis)

    def backward(self, gg):
        y, g = self.parents
        axis = self.axis
        gy = gg_out = None
        if self.log:  # dx = g - exp(y) * sum(g)
            if self.needs_input_grad[0]:
                gy = -gg * y.exp() * g.sum(axis=axis, keepdim=True)
        elif self.needs_input_grad[0]:  # dx = y * (g - sum(g * y))
            gy = gg * (g - (g * y).sum(axis=axis, keepdim=True)) \
                - g * (gg * y).sum(axis=axis, keepdim=True)
        if self.needs_input_grad[1]:  # dx is linear in g, and its adjoint is itself
            gg_out = SoftmaxGrad.apply(y, gg, axis=axis, log=self.log) if not self.log \
                else gg - (gg * y.exp()).sum(axis=axis, keepdim=True)
        return gy, gg_out


# ---------------------------------------------------------------------- functions
_GELU = {"none": Gelu, "tanh": GeluTanh}
_FUSABLE = {None: Identity, "relu": Relu, "sigmoid": Sigmoid, "tanh": Tanh, "gelu": Gelu,
            "gelu_tanh": GeluTanh, "silu": Silu, "softplus": Softplus, "elu": Elu,
            "leaky_relu": LeakyRelu}
_DEFAULT_PARAMS = {"leaky_relu": 0.01, "softplus": 1.0, "elu": 1.0}


def fusable(activation: str | None) -> tuple[type[Activation], float]:
    """The Activation class and default parameter that `linear(activation=...)` fuses."""
    if activation not in _FUSABLE:
        raise ValueError(f"linear: unknown activation {activation!r}; valid: "
                         f"{[k for k in _FUSABLE if k]}")
    return _FUSABLE[activation], _DEFAULT_PARAMS.get(activation, 0.0)


def _activation(x: Tensor, fn: type[Activation], param: float = 0.0) -> Tensor:
    if not is_floating(x.dtype):
        raise TypeError(f"{fn.act}: needs a floating point tensor, got {x.dtype.name}")
    return fn.apply(x, param=float(param))


def relu(x: Tensor) -> Tensor:
    """max(x, 0); the gradient at 0 is 0."""
    return _activation(x, Relu)


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    """x where x > 0, else negative_slope * x."""
    return _activation(x, LeakyRelu, number_arg(negative_slope, "leaky_relu", "negative_slope"))


def sigmoid(x: Tensor) -> Tensor:
    """1 / (1 + exp(-x)), stable for large |x| (integers are promoted to float32, as torch)."""
    return _activation(floating(x), Sigmoid)


def tanh(x: Tensor) -> Tensor:
    """The hyperbolic tangent (integers are promoted to float32, as torch)."""
    return _activation(floating(x), Tanh)


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    """GELU: the exact erf form, or approximate='tanh'."""
    if approximate not in _GELU:
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return _activation(x, _GELU[approximate])


def silu(x: Tensor) -> Tensor:
    """x * sigmoid(x)."""
    return _activation(x, Silu)


@autocast_op
def softplus(x: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta x)) / beta, and x itself where beta x > threshold."""
    beta, threshold = number_arg(beta, "softplus", "beta"), \
        number_arg(threshold, "softplus", "threshold")
    if threshold == 20.0:  # the fused kernel's threshold
        return _activation(x, Softplus, beta)
    return (x * beta > threshold).where(x, _activation(x, Softplus, beta))


def elu(x: Tensor, alpha: float = 1.0) -> Tensor:
    """x where x > 0, else alpha * (exp(x) - 1)."""
    return _activation(x, Elu, number_arg(alpha, "elu", "alpha"))


@autocast_op
def softmax(x: Tensor, axis: int = -1, dim: int | None = None, dtype: Any = None) -> Tensor:
    """exp(x) / sum(exp(x)) along `axis` (or `dim`), max-subtracted; `dtype` casts x first."""
    return _softmax(_cast(x, dtype), axis if dim is None else dim, log=False)


@autocast_op
def log_softmax(x: Tensor, axis: int = -1, dim: int | None = None, dtype: Any = None
                ) -> Tensor:
    """x - logsumexp(x) along `axis` (or `dim`); `dtype` casts x first."""
    return _softmax(_cast(x, dtype), axis if dim is None else dim, log=True)


def _softmax(x: Tensor, axis: int, log: bool) -> Tensor:
    """float16/bfloat16 go to the kernels as they are (float32 math inside, rounded once)."""
    op = "log_softmax" if log else "softmax"
    x = floating(x)
    if x.ndim == 0:
        return _softmax(x.reshape(1), 0, log).reshape(())
    return Softmax.apply(x, axis=check_axis(x, axis, op), log=log)


@autocast_op
def softmin(x: Tensor, axis: int = -1, dim: int | None = None, dtype: Any = None) -> Tensor:
    """softmax(-x) along `axis` (or `dim`): weights that favour the smallest values."""
    return _softmax(-floating(_cast(x, dtype)), axis if dim is None else dim, log=False)


def _cast(x: Tensor, dtype: Any) -> Tensor:
    return x if dtype is None else x.cast(dtype)


# ---------------------------------------------------------------------- composed activations
# (their gradients, double backward included, come from the ops they are built of)
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _floating_only(x: Tensor, op: str) -> None:
    if not is_floating(x.dtype):
        raise TypeError(f"{op}: needs a floating point tensor, got {x.dtype.name}")


def hardtanh(x: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """x clipped to [min_val, max_val]; the gradient is 1 strictly inside, 0 at and beyond
    the bounds (as PyTorch).

    >>> Tensor([-2.0, 0.5, 2.0]).hardtanh()      # [-1, 0.5, 1]
    """
    _floating_only(x, "hardtanh")
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) cannot be greater than max_val "
                         f"({max_val})")
    inside = (x > min_val) & (x < max_val)
    return inside.where(x, x.detach().clip(min_val, max_val))


def relu6(x: Tensor) -> Tensor:
    """min(max(x, 0), 6); the gradient is 0 at 0 and at 6."""
    _floating_only(x, "relu6")
    return hardtanh(x, 0.0, 6.0)


def hardsigmoid(x: Tensor) -> Tensor:
    """relu6(x + 3) / 6, a piecewise linear sigmoid."""
    _floating_only(x, "hardsigmoid")
    return hardtanh(x + 3, 0.0, 6.0) / 6


def hardswish(x: Tensor) -> Tensor:
    """x * relu6(x + 3) / 6 (MobileNetV3)."""
    _floating_only(x, "hardswish")
    return x * hardsigmoid(x)


@autocast_op
def logsigmoid(x: Tensor) -> Tensor:
    """log(sigmoid(x)) = -softplus(-x), stable for large |x|."""
    _floating_only(x, "logsigmoid")
    return -softplus(-x)


@autocast_op
def mish(x: Tensor) -> Tensor:
    """x * tanh(softplus(x))."""
    _floating_only(x, "mish")
    return x * tanh(softplus(x))


def softsign(x: Tensor) -> Tensor:
    """x / (1 + |x|)."""
    _floating_only(x, "softsign")
    return x / (x.abs() + 1)


def selu(x: Tensor) -> Tensor:
    """scale * elu(x, alpha) with the self-normalising constants (alpha 1.6733, scale
    1.0507)."""
    _floating_only(x, "selu")
    return elu(x, _SELU_ALPHA) * _SELU_SCALE


def celu(x: Tensor, alpha: float = 1.0) -> Tensor:
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1)): alpha * elu(x / alpha)."""
    _floating_only(x, "celu")
    if alpha == 0:
        raise ValueError("celu: alpha cannot be 0")
    return elu(x / alpha) * alpha


def glu(x: Tensor, dim: int | None = None, *, axis: int | None = None) -> Tensor:
    """The gated linear unit a * sigmoid(b), where a and b are the two halves of x along
    `dim` (the last by default; it must have an even size).

    >>> Tensor([[1.0, 2.0, 0.0, 0.0]]).glu()     # [[0.5, 1.0]]
    """
    _floating_only(x, "glu")
    dim = dim_or_axis(dim, axis, "glu", -1)
    if x.ndim == 0:
        raise ValueError("glu: needs a tensor with at least 1 dimension, got a 0-d tensor")
    axis = check_axis(x, dim, "glu")
    if x.shape[axis] % 2:
        raise ValueError(f"glu: the halved dimension {dim} must have an even size, got "
                         f"{x.shape[axis]} in shape {tuple(x.shape)}")
    a, b = x.chunk(2, axis) if x.shape[axis] else (x, x)
    return a * sigmoid(b)


def threshold(x: Tensor, threshold: float, value: float) -> Tensor:
    """x where x > threshold, else value (NaN stays NaN, as PyTorch).

    >>> F.threshold(Tensor([0.5, 2.0]), 1.0, -1.0)     # [-1, 2]
    """
    return (x <= threshold).where(value, x)


def hardshrink(x: Tensor, lambd: float = 0.5) -> Tensor:
    """x where |x| > lambd, else 0; the gradient is 0 at +-lambd."""
    _floating_only(x, "hardshrink")
    return (x.abs() <= lambd).where(0.0, x)


def softshrink(x: Tensor, lambd: float = 0.5) -> Tensor:
    """x - lambd where x > lambd, x + lambd where x < -lambd, else 0 (lambd >= 0)."""
    _floating_only(x, "softshrink")
    if lambd < 0:
        raise ValueError(f"softshrink: lambd must be >= 0, got {lambd}")
    return (x.abs() <= lambd).where(0.0, x - x.sign() * lambd)


def tanhshrink(x: Tensor) -> Tensor:
    """x - tanh(x)."""
    _floating_only(x, "tanhshrink")
    return x - tanh(x)


def rrelu(x: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3,
          training: bool = False) -> Tensor:
    """Randomized leaky ReLU: x where x >= 0, else a * x, with a drawn from U(lower, upper) for
    each element in training, (lower + upper) / 2 in eval."""
    _floating_only(x, "rrelu")
    if lower > upper:
        raise ValueError(f"rrelu: lower ({lower}) must be at most upper ({upper})")
    if not training:
        return leaky_relu(x, (lower + upper) / 2)
    from tinygrad_nv._tensor import Tensor  # ops stand below the Tensor class: at call time

    slope = Tensor.uniform(*x.shape, low=lower, high=upper, dtype=x.dtype, device=x.device)
    return (x >= 0).where(x, x * slope)


# ---------------------------------------------------------------------- public names
_PUBLIC = {  # Tensor methods and package functions (torch.<name>)
    "relu": relu, "sigmoid": sigmoid, "tanh": tanh, "softmax": softmax, "log_softmax": log_softmax,
    "selu": selu, "celu": celu,
}
_METHODS_ONLY = {
    "leaky_relu": leaky_relu, "gelu": gelu, "silu": silu, "softplus": softplus, "elu": elu,
    "softmin": softmin, "relu6": relu6, "hardtanh": hardtanh, "hardsigmoid": hardsigmoid,
    "logsigmoid": logsigmoid, "hardswish": hardswish, "mish": mish, "softsign": softsign,
    "glu": glu, "hardshrink": hardshrink,
}
_FUNCTIONS_ONLY = {"threshold": threshold, "rrelu": rrelu, "hardshrink": hardshrink}
_FUNCTIONAL = {  # nn.functional: PyTorch's trailing inplace flag where it has one
    **{name: fn for name, fn in {**_PUBLIC, **_METHODS_ONLY}.items()},
    "softshrink": softshrink, "tanhshrink": tanhshrink,
    **{name: with_inplace(fn) for name, fn in (
        ("relu", relu), ("relu6", relu6), ("leaky_relu", leaky_relu), ("hardtanh", hardtanh),
        ("hardsigmoid", hardsigmoid), ("silu", silu), ("hardswish", hardswish), ("mish", mish),
        ("elu", elu), ("selu", selu), ("celu", celu), ("threshold", threshold),
        ("rrelu", rrelu))},
}
EXPORTS = Exports(methods={**_PUBLIC, **_METHODS_ONLY},
                  functions={**_PUBLIC, **_FUNCTIONS_ONLY}, functional=_FUNCTIONAL)
