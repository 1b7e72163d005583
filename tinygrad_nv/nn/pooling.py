"""Pooling layers with PyTorch's arguments, defaults and reprs: max and average pooling (1-D and
2-D), adaptive average and max pooling, max unpooling and power-average (LP) pooling.

>>> pool = nn.AdaptiveMaxPool2d((1, 1))
>>> features = pool(Tensor.randn(8, 64, 7, 7))      # (8, 64, 1, 1)
"""

from __future__ import annotations

from typing import Any

from tinygrad_nv._tensor import Tensor
from tinygrad_nv.nn.module import Module
from tinygrad_nv.ops import pool

IntPair = int | tuple[int, int]


class _MaxPoolNd(Module):
    def __init__(self, kernel_size: IntPair, stride: IntPair | None = None,
                 padding: IntPair = 0, dilation: IntPair = 1, return_indices: bool = False,
                 ceil_mode: bool = False):
        super().__init__()
        self.kernel_size, self.padding, self.dilation = kernel_size, padding, dilation
        self.stride = kernel_size if stride is None else stride
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding},"
                f" dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool1d(_MaxPoolNd):
    """Max over windows of (N, C, L) or (C, L) inputs; return_indices=True also returns each
    maximum's position along L."""

    def forward(self, x: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        return pool.max_pool1d(x, self.kernel_size, self.stride, self.padding, self.dilation,
                               self.ceil_mode, self.return_indices)


class MaxPool2d(_MaxPoolNd):
    """Max over windows of (N, C, H, W) or (C, H, W) inputs; return_indices=True also returns
    the argmax indices."""

    def forward(self, x: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        return pool.max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation,
                               self.ceil_mode, self.return_indices)


class _AvgPoolNd(Module):
    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool1d(_AvgPoolNd):
    """Mean over windows of (N, C, L) or (C, L) inputs."""

    def __init__(self, kernel_size: int, stride: int | None = None, padding: int = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True):
        super().__init__()
        self.kernel_size, self.padding = kernel_size, padding
        self.stride = kernel_size if stride is None else stride
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad

    def forward(self, x: Tensor) -> Tensor:
        return pool.avg_pool1d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                               self.count_include_pad)


class AvgPool2d(_AvgPoolNd):
    """Mean over windows of (N, C, H, W) or (C, H, W) inputs."""

    def __init__(self, kernel_size: IntPair, stride: IntPair | None = None,
                 padding: IntPair = 0, ceil_mode: bool = False, count_include_pad: bool = True,
                 divisor_override: int | None = None):
        super().__init__()
        self.kernel_size, self.padding = kernel_size, padding
        self.stride = kernel_size if stride is None else stride
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad
        self.divisor_override = divisor_override

    def forward(self, x: Tensor) -> Tensor:
        return pool.avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                               self.count_include_pad, self.divisor_override)


class _AdaptivePool(Module):
    def __init__(self, output_size: int | tuple[int | None, ...]):
        super().__init__()
        self.output_size = output_size

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class _AdaptiveAvgPoolNd(_AdaptivePool):
    """PyTorch's base of the adaptive average poolings (for isinstance checks)."""


class AdaptiveAvgPool1d(_AdaptiveAvgPoolNd):
    """Average pooling of (N, C, L) or (C, L) inputs to a fixed length."""

    def forward(self, x: Tensor) -> Tensor:
        return pool.adaptive_avg_pool1d(x, self.output_size)


class AdaptiveAvgPool2d(_AdaptiveAvgPoolNd):
    """Average pooling of (N, C, H, W) or (C, H, W) inputs to a fixed (OH, OW) (None keeps a
    side)."""

    def forward(self, x: Tensor) -> Tensor:
        return pool.adaptive_avg_pool2d(x, self.output_size)


class _AdaptiveMaxPoolNd(_AdaptivePool):
    def __init__(self, output_size: int | tuple[int | None, ...], return_indices: bool = False):
        super().__init__(output_size)
        self.return_indices = return_indices


class AdaptiveMaxPool1d(_AdaptiveMaxPoolNd):
    """Max pooling of (N, C, L) or (C, L) inputs to a fixed length."""

    def forward(self, x: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        return pool.adaptive_max_pool1d(x, self.output_size, self.return_indices)


class AdaptiveMaxPool2d(_AdaptiveMaxPoolNd):
    """Max pooling of (N, C, H, W) or (C, H, W) inputs to a fixed (OH, OW) (None keeps a
    side)."""

    def forward(self, x: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        return pool.adaptive_max_pool2d(x, self.output_size, self.return_indices)


class _MaxUnpoolNd(Module):
    """PyTorch's base of the max unpoolings: kernel_size, stride (kernel_size by default) and
    padding, each as a tuple of one per spatial axis."""

    dims = 0

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0):
        super().__init__()
        name, n = type(self).__name__, self.dims
        self.kernel_size = pool.per_axis_ints(kernel_size, n, "kernel_size", name, 1)
        self.stride = self.kernel_size if stride is None \
            else pool.per_axis_ints(stride, n, "stride", name, 1)
        self.padding = pool.per_axis_ints(padding, n, "padding", name, 0)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool1d(_MaxUnpoolNd):
    """MaxPool1d undone: (N, C, L) or (C, L) values written at their indices, zeros
    elsewhere."""

    dims = 1

    def forward(self, input: Tensor, indices: Tensor, output_size: Any = None) -> Tensor:
        return pool.max_unpool1d(input, indices, self.kernel_size, self.stride, self.padding,
                                 output_size)


class MaxUnpool2d(_MaxUnpoolNd):
    """MaxPool2d undone: (N, C, H, W) or (C, H, W) values written at their flat indices, zeros
    elsewhere.

    >>> y, i = nn.MaxPool2d(2, return_indices=True)(x)
    >>> nn.MaxUnpool2d(2)(y, i, output_size=x.shape)
    """

    dims = 2

    def forward(self, input: Tensor, indices: Tensor, output_size: Any = None) -> Tensor:
        return pool.max_unpool2d(input, indices, self.kernel_size, self.stride, self.padding,
                                 output_size)


class _LPPoolNd(Module):
    """PyTorch's base of the power-average poolings."""

    def __init__(self, norm_type: float, kernel_size: Any, stride: Any = None,
                 ceil_mode: bool = False):
        super().__init__()
        self.norm_type, self.kernel_size, self.stride = norm_type, kernel_size, stride
        self.ceil_mode = ceil_mode

    def extra_repr(self) -> str:
        return (f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, ceil_mode={self.ceil_mode}")


class LPPool1d(_LPPoolNd):
    """The p-norm of each window of (N, C, L) or (C, L) inputs."""

    def forward(self, input: Tensor) -> Tensor:
        return pool.lp_pool1d(input, self.norm_type, self.kernel_size, self.stride,
                              self.ceil_mode)


class LPPool2d(_LPPoolNd):
    """The p-norm of each window of (N, C, H, W) or (C, H, W) inputs."""

    def forward(self, input: Tensor) -> Tensor:
        return pool.lp_pool2d(input, self.norm_type, self.kernel_size, self.stride,
                              self.ceil_mode)
