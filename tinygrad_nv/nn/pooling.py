"""Pooling layers beside conv.py's 2-D ones: MaxPool1d, AvgPool1d, AdaptiveAvgPool1d,
AdaptiveMaxPool1d and AdaptiveMaxPool2d, with PyTorch's arguments and defaults.

>>> pool = nn.AdaptiveMaxPool2d((1, 1))
>>> features = pool(Tensor.randn(8, 64, 7, 7))      # (8, 64, 1, 1)
"""

from __future__ import annotations

from tinygrad_nv._tensor import Tensor
from tinygrad_nv.nn.module import Module
from tinygrad_nv.ops import pool


class MaxPool1d(Module):
    """Max over windows of (N, C, L) or (C, L) inputs; return_indices=True also returns each
    maximum's position along L."""

    def __init__(self, kernel_size: int, stride: int | None = None, padding: int = 0,
                 dilation: int = 1, return_indices: bool = False, ceil_mode: bool = False):
        super().__init__()
        self.kernel_size, self.padding, self.dilation = kernel_size, padding, dilation
        self.stride = kernel_size if stride is None else stride
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def forward(self, x: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        return pool.max_pool1d(x, self.kernel_size, self.stride, self.padding, self.dilation,
                               self.ceil_mode, self.return_indices)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding},"
                f" dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class AvgPool1d(Module):
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

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class _AdaptivePool(Module):
    def __init__(self, output_size: int | tuple[int | None, ...]):
        super().__init__()
        self.output_size = output_size

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_AdaptivePool):
    """Average pooling of (N, C, L) or (C, L) inputs to a fixed length."""

    def forward(self, x: Tensor) -> Tensor:
        return pool.adaptive_avg_pool1d(x, self.output_size)


class _AdaptiveMaxPool(_AdaptivePool):
    def __init__(self, output_size: int | tuple[int | None, ...], return_indices: bool = False):
        super().__init__(output_size)
        self.return_indices = return_indices


class AdaptiveMaxPool1d(_AdaptiveMaxPool):
    """Max pooling of (N, C, L) or (C, L) inputs to a fixed length."""

    def forward(self, x: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        return pool.adaptive_max_pool1d(x, self.output_size, self.return_indices)


class AdaptiveMaxPool2d(_AdaptiveMaxPool):
    """Max pooling of (N, C, H, W) or (C, H, W) inputs to a fixed (OH, OW) (None keeps a
    side)."""

    def forward(self, x: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        return pool.adaptive_max_pool2d(x, self.output_size, self.return_indices)
