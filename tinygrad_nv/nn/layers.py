"""Layers: a few lines each around `nn.functional`, with PyTorch's arguments, parameter
shapes, default initialisation and state_dict keys."""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from typing import Any

from tinygrad_nv._tensor import Tensor
from tinygrad_nv.autograd.function import constant
from tinygrad_nv.dtype import dtypes
from tinygrad_nv.nn import functional as F
from tinygrad_nv.nn import init
from tinygrad_nv.nn.activation import GELU, ReLU, Sigmoid, SiLU, Tanh
from tinygrad_nv.nn.dropout import _DropoutNd
from tinygrad_nv.nn.hooks import has_hooks
from tinygrad_nv.nn.module import Module


def _reset_linear(weight: Tensor, bias: Tensor | None) -> None:
    """PyTorch's default for Linear and Conv: kaiming_uniform(a=sqrt(5)) for the weight,
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for the bias."""
    init.kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        fan_in, _ = init.calculate_fan_in_and_fan_out(weight)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        init.uniform_(bias, -bound, bound)


def _normalized_shape(op: str, value: int | Sequence[int]) -> tuple[int, ...]:
    """LayerNorm's and RMSNorm's normalized_shape as a tuple; a negative size raises
    RuntimeError naming the layer (PyTorch's type; zero sizes are accepted, as PyTorch)."""
    shape = (value,) if isinstance(value, int) else tuple(value)
    if any(n < 0 for n in shape):
        raise RuntimeError(f"{op}: normalized_shape must hold sizes >= 0, got {shape}")
    return shape


def _positive(op: str, **values: int) -> None:
    for name, v in values.items():
        if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
            raise ValueError(f"{op}: {name} must be a positive int, got {v!r}")


class Linear(Module):
    """y = x @ weight.T + bias, weight (out_features, in_features)."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 device: Any = None, dtype: Any = None):
        super().__init__()
        _positive("Linear", in_features=in_features, out_features=out_features)
        self.in_features, self.out_features = in_features, out_features
        factory = dict(device=device, dtype=dtype, requires_grad=True)
        self.weight = Tensor.empty(out_features, in_features, **factory)
        self.bias = Tensor.empty(out_features, **factory) if bias else None
        _reset_linear(self.weight, self.bias)

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class NonDynamicallyQuantizableLinear(Linear):
    """PyTorch's name for MultiheadAttention's out_proj: a Linear (so reprs and
    `torch.nn.modules.linear` references match)."""


class Identity(Module):
    """Returns its input; takes and ignores any constructor arguments (as PyTorch)."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__()

    def forward(self, x: Tensor) -> Tensor:
        return x


class Flatten(Module):
    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x: Tensor) -> Tensor:
        return x.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Splits axis `dim` into `unflattened_size`."""

    def __init__(self, dim: int, unflattened_size: Sequence[int]):
        super().__init__()
        self.dim, self.unflattened_size = dim, tuple(unflattened_size)

    def forward(self, x: Tensor) -> Tensor:
        dim = self.dim % x.ndim if -x.ndim <= self.dim < x.ndim else self.dim
        if not 0 <= dim < x.ndim:
            raise IndexError(f"Unflatten: dim {self.dim} is out of range for input of shape "
                             f"{tuple(x.shape)}")
        return x.reshape(*x.shape[:dim], *self.unflattened_size, *x.shape[dim + 1:])

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


class Dropout(_DropoutNd):
    """Zeroes elements with probability p in training mode; the identity in eval mode."""

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.p, self.training, inplace=self.inplace)


class LayerNorm(Module):
    def __init__(self, normalized_shape: int | Sequence[int], eps: float = 1e-5,
                 elementwise_affine: bool = True, bias: bool = True, device: Any = None,
                 dtype: Any = None):
        super().__init__()
        shape = _normalized_shape("LayerNorm", normalized_shape)
        self.normalized_shape, self.eps = shape, eps
        factory = dict(device=device, dtype=dtype, requires_grad=True)
        self.weight = Tensor.ones(*shape, **factory) if elementwise_affine else None
        self.bias = Tensor.zeros(*shape, **factory) if elementwise_affine and bias else None

    def forward(self, x: Tensor) -> Tensor:
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        affine = self.weight is not None
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={affine}, "
                f"bias={self.bias is not None}")


class GroupNorm(Module):
    """Normalises each group of num_channels / num_groups channels; per-channel affine."""

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5,
                 affine: bool = True, device: Any = None, dtype: Any = None):
        super().__init__()
        _positive("GroupNorm", num_groups=num_groups, num_channels=num_channels)
        if num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_groups={num_groups} must divide "
                             f"num_channels={num_channels}")
        self.num_groups, self.num_channels, self.eps = num_groups, num_channels, eps
        factory = dict(device=device, dtype=dtype, requires_grad=True)
        self.weight = Tensor.ones(num_channels, **factory) if affine else None
        self.bias = Tensor.zeros(num_channels, **factory) if affine else None

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim < 2 or x.shape[1] != self.num_channels:
            raise ValueError(f"GroupNorm: expected an input (N, {self.num_channels}, ...), got "
                             f"shape {tuple(x.shape)}")
        return F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        affine = self.weight is not None
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={affine}, " \
            f"bias={self.bias is not None}"


def _count_batch(xp, counter):
    """counter += 1 in place (num_batches_tracked, on its device)."""
    counter += 1
    return counter


class _NormBase(Module):
    """What batch and instance norms hold (PyTorch's layout): per-channel weight and bias when
    `affine`, running mean, variance and batch count when `track_running_stats`."""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, device: Any = None,
                 dtype: Any = None):
        super().__init__()
        _positive(type(self).__name__, num_features=num_features)
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        factory = dict(device=device, dtype=dtype)
        self.weight = Tensor.ones(num_features, **factory, requires_grad=True) if affine \
            else None
        self.bias = Tensor.zeros(num_features, **factory, requires_grad=True) if affine \
            else None
        tracked = track_running_stats
        self.register_buffer("running_mean",
                             Tensor.zeros(num_features, **factory) if tracked else None)
        self.register_buffer("running_var",
                             Tensor.ones(num_features, **factory) if tracked else None)
        self.register_buffer("num_batches_tracked", Tensor(0, dtype=dtypes.int64, device=device)
                             if tracked else None)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.affine}, "
                f"track_running_stats={self.track_running_stats}")


class _BatchNorm(_NormBase):
    """Per-channel normalisation. Training: batch statistics, and the running ones are
    updated (momentum=None: a cumulative average); eval: the running statistics."""

    input_dims: tuple[int, ...] = ()

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim not in self.input_dims:
            dims = " or ".join(f"{d}-D" for d in self.input_dims)
            raise ValueError(f"{type(self).__name__}: expected a {dims} input, got shape "
                             f"{tuple(x.shape)}")
        momentum = self.momentum
        if self.training and self.num_batches_tracked is not None:
            count = constant(_count_batch, self.num_batches_tracked)
            self.num_batches_tracked._bump_version()
            if momentum is None:  # the cumulative average: 1 / count, kept on the device
                momentum = constant(lambda xp, n: 1.0 / n, count)
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                            training=self.training or self.running_mean is None,
                            momentum=momentum, eps=self.eps)

class BatchNorm1d(_BatchNorm):
    """Batch norm of (N, C) or (N, C, L) inputs."""

    input_dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch norm of (N, C, H, W) inputs."""

    input_dims = (4,)


class BatchNorm3d(_BatchNorm):
    """Batch norm of (N, C, D, H, W) inputs."""

    input_dims = (5,)


class Sequential(Module):
    """Modules applied in order; `Sequential(a, b)` names them '0', '1' (or pass an
    OrderedDict of names). Indexable, sliceable, iterable."""

    def __init__(self, *modules: Module | OrderedDict):
        super().__init__()
        named = modules[0].items() if len(modules) == 1 and isinstance(modules[0], OrderedDict) \
            else enumerate(modules)
        for name, module in named:
            if not isinstance(module, Module):
                raise TypeError(f"Sequential: {name} is a {type(module).__name__}, not a Module")
            setattr(self, str(name), module)

    def __getitem__(self, index: int | slice) -> Any:
        items = list(self._modules.items())
        if isinstance(index, slice):
            return Sequential(OrderedDict(items[index]))
        if not -len(items) <= index < len(items):
            raise IndexError(f"Sequential: index {index} is out of range for {len(items)} "
                             "modules")
        return items[index][1]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def append(self, module: Module) -> Sequential:
        setattr(self, str(len(self)), module)
        return self

    def forward(self, x: Any) -> Any:
        modules = list(self)
        i = 0
        while i < len(modules):
            activation = _fusable(modules[i], modules[i + 1] if i + 1 < len(modules) else None)
            if activation:  # Linear then its activation: one bias + activation kernel
                x = F.linear(x, modules[i].weight, modules[i].bias, activation=activation)
                i += 2
            else:
                x = modules[i](x)
                i += 1
        return x


_FUSED_ACTIVATIONS = {ReLU: "relu", Sigmoid: "sigmoid", Tanh: "tanh", SiLU: "silu"}


def _fusable(module: Module, following: Module | None) -> str | None:
    """The fused kernel's name for a plain Linear followed by a plain activation module
    (neither watched by hooks)."""
    if type(module) is not Linear or has_hooks(module) or has_hooks(following):
        return None
    if type(following) is GELU:
        return "gelu" if following.approximate == "none" else "gelu_tanh"
    return _FUSED_ACTIVATIONS.get(type(following))
