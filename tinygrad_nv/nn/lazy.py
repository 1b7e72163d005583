"""Lazy modules (PyTorch's torch.nn.modules.lazy): layers whose input size is inferred at the
first call. Until then their parameters are `UninitializedParameter`s (state_dict holds them
as they are; load_state_dict gives them the loaded shapes); the first call materialises and
initialises them, and the layer becomes its plain class (LazyLinear -> Linear). Convert
dtype and device before that first call; build optimizers after it (or before: the
parameters stay the same objects).

>>> mlp = nn.Sequential(nn.LazyLinear(64), nn.ReLU(), nn.LazyLinear(10))
>>> mlp(Tensor.randn(8, 784))              # now Linear(784, 64), Linear(64, 10)
"""

from __future__ import annotations

from typing import Any

from tinygrad_nv._tensor import Tensor
from tinygrad_nv.autograd import no_grad
from tinygrad_nv.nn import checks
from tinygrad_nv.nn.conv import Conv1d, Conv2d
from tinygrad_nv.nn.layers import Linear, _positive, _reset_linear
from tinygrad_nv.nn.module import Module
from tinygrad_nv.nn.parameter import UninitializedParameter, is_lazy


class LazyModuleMixin:
    """Mixed in before a Module class: the first call runs `initialize_parameters` with the
    call's arguments, then the module becomes `cls_to_become` (when set)."""

    cls_to_become: type[Module] | None = None

    def initialize_parameters(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError(f"initialize_parameters is not implemented for "
                                  f"{type(self).__name__}")

    def has_uninitialized_params(self) -> bool:
        """Whether a parameter or buffer is still uninitialized."""
        return any(is_lazy(t) for t in [*self._parameters.values(), *self._buffers.values()])

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.has_uninitialized_params():
            checks.check_tensors(type(self).__name__, self._inputs, args, kwargs)
            with no_grad():
                self.initialize_parameters(*args, **kwargs)
            if self.has_uninitialized_params():
                raise RuntimeError(f"module {type(self).__name__} has not been fully "
                                   "initialized")
        if self.cls_to_become is not None:
            self.__class__ = self.cls_to_become
        return Module.__call__(self, *args, **kwargs)


class LazyLinear(LazyModuleMixin, Linear):
    """A Linear whose in_features is the last axis of its first input."""

    cls_to_become = Linear

    def __init__(self, out_features: int, bias: bool = True, device: Any = None,
                 dtype: Any = None):
        Module.__init__(self)
        _positive("LazyLinear", out_features=out_features)
        self.in_features, self.out_features = 0, out_features
        self.weight = UninitializedParameter(device=device, dtype=dtype)
        self.bias = UninitializedParameter(device=device, dtype=dtype) if bias else None

    def initialize_parameters(self, x: Tensor) -> None:
        if self.has_uninitialized_params():
            self.in_features = x.shape[-1]
            self.weight.materialize((self.out_features, self.in_features))
            if self.bias is not None:
                self.bias.materialize((self.out_features,))
            _reset_linear(self.weight, self.bias)


class _LazyConvXdMixin(LazyModuleMixin):
    """A convolution whose in_channels is the channel axis of its first input."""

    def __init__(self, out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0,
                 dilation: Any = 1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros", device: Any = None, dtype: Any = None):
        # built with groups input channels (valid for the checks), then made lazy
        super().__init__(groups, out_channels, kernel_size, stride, padding, dilation, groups,
                         bias, padding_mode, device, dtype)
        self.in_channels = 0
        self.weight = UninitializedParameter(device=device, dtype=dtype)
        self.bias = UninitializedParameter(device=device, dtype=dtype) if bias else None

    def initialize_parameters(self, x: Tensor) -> None:
        if not self.has_uninitialized_params():
            return
        dims = len(self.kernel_size)
        if x.ndim not in (dims + 1, dims + 2):
            raise ValueError(f"{type(self).__name__}: expected a {dims + 1}-D (unbatched) or "
                             f"{dims + 2}-D (batched) input, got shape {tuple(x.shape)}")
        self.in_channels = x.shape[x.ndim - dims - 1]
        if self.in_channels % self.groups:
            raise ValueError(f"{type(self).__name__}: groups={self.groups} must divide the "
                             f"input's {self.in_channels} channels (shape {tuple(x.shape)})")
        self.weight.materialize((self.out_channels, self.in_channels // self.groups,
                                 *self.kernel_size))
        if self.bias is not None:
            self.bias.materialize((self.out_channels,))
        _reset_linear(self.weight, self.bias)


class LazyConv1d(_LazyConvXdMixin, Conv1d):
    """A Conv1d whose in_channels is the channel axis of its first input."""

    cls_to_become = Conv1d


class LazyConv2d(_LazyConvXdMixin, Conv2d):
    """A Conv2d whose in_channels is the channel axis of its first input."""

    cls_to_become = Conv2d
