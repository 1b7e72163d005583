"""Convolution and resizing layers (PyTorch's arguments, weight shapes, default
initialisation and state_dict keys); the pooling layers are in pooling.py."""

from __future__ import annotations

from typing import Any

from tinygrad_nv._tensor import Tensor
from tinygrad_nv.nn import functional as F
from tinygrad_nv.nn.layers import _positive, _reset_linear
from tinygrad_nv.nn.module import Module
from tinygrad_nv.ops.conv import pair

IntPair = int | tuple[int, int]


def _kernel1d(kernel_size: int | tuple[int], op: str) -> tuple[int]:
    """A 1-D convolution's kernel size (an int or a 1-tuple) as a 1-tuple."""
    k = kernel_size[0] if isinstance(kernel_size, (tuple, list)) else kernel_size
    _positive(op, kernel_size=k)
    return (k,)


class _ConvNd(Module):
    """Shared by the convolutions: checks, the weight (out or in first, as PyTorch) and bias,
    PyTorch's default initialisation."""

    transposed = False

    def __init__(self, in_channels: int, out_channels: int, kernel_size: tuple, stride: Any,
                 padding: Any, dilation: Any, groups: int, bias: bool,
                 padding_mode: str = "zeros", device: Any = None, dtype: Any = None):
        super().__init__()
        name = type(self).__name__
        _positive(name, in_channels=in_channels, out_channels=out_channels, groups=groups)
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"{name}: groups={groups} must divide in_channels={in_channels} "
                             f"and out_channels={out_channels}")
        modes = ("zeros",) if self.transposed else ("zeros", "reflect", "replicate", "circular")
        if padding_mode not in modes or padding_mode != "zeros" and isinstance(padding, str):
            raise ValueError(f"{name}: padding_mode must be one of {modes} (with int padding), "
                             f"got {padding_mode!r} with padding={padding!r}")
        if isinstance(padding, str) and padding not in ("valid", "same"):
            raise ValueError(f"{name}: padding must be an int, a tuple of ints, 'valid' or "
                             f"'same', got {padding!r}")
        strides = stride if isinstance(stride, (tuple, list)) else (stride,)
        if padding == "same" and any(s != 1 for s in strides):
            raise ValueError(f"{name}: padding='same' is not supported for strided "
                             f"convolutions, got stride={stride!r}")
        if not all(k > 0 for k in kernel_size):
            raise ValueError(f"{name}: kernel_size must be positive, got {kernel_size}")
        self.padding_mode = padding_mode
        self.in_channels, self.out_channels, self.kernel_size = (in_channels, out_channels,
                                                                 kernel_size)
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        first, second = (in_channels, out_channels // groups) if self.transposed \
            else (out_channels, in_channels // groups)
        factory = dict(device=device, dtype=dtype, requires_grad=True)
        self.weight = Tensor.empty(first, second, *kernel_size, **factory)
        self.bias = Tensor.empty(out_channels, **factory) if bias else None
        _reset_linear(self.weight, self.bias)

    def _padded(self, x: Tensor) -> tuple[Tensor, Any]:
        """x padded by padding_mode unless it is 'zeros', and the padding left to the conv."""
        if self.padding_mode == "zeros":
            return x, self.padding
        sides = self.padding if isinstance(self.padding, (tuple, list)) \
            else (self.padding,) * len(self.kernel_size)
        flat = tuple(p for side in reversed(sides) for p in (side, side))  # last axis first
        return F.pad(x, flat, mode=self.padding_mode), 0

    def extra_repr(self) -> str:  # PyTorch's: tuples, defaults left out
        n = len(self.kernel_size)
        tup = lambda v: v if isinstance(v, (str, tuple)) else tuple(v) if isinstance(  # noqa
            v, list) else (v,) * n
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={tup(self.stride)}")
        padding = tup(self.padding)
        if padding != (0,) * n:
            s += f", padding={padding}"
        if tup(self.dilation) != (1,) * n:
            s += f", dilation={tup(self.dilation)}"
        if tup(getattr(self, "output_padding", 0)) != (0,) * n:
            s += f", output_padding={tup(self.output_padding)}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s if self.padding_mode == "zeros" else f"{s}, padding_mode={self.padding_mode}"


class Conv1d(_ConvNd):
    """1-D convolution of (N, C, L) inputs, weight (out_channels, in_channels / groups, k)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int | str = 0, dilation: int = 1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros", device: Any = None, dtype: Any = None):
        super().__init__(in_channels, out_channels, _kernel1d(kernel_size, "Conv1d"), stride,
                         padding, dilation, groups, bias, padding_mode, device, dtype)

    def forward(self, x: Tensor) -> Tensor:
        x, padding = self._padded(x)
        return F.conv1d(x, self.weight, self.bias, self.stride, padding, self.dilation,
                        self.groups)


class Conv2d(_ConvNd):
    """2-D convolution of (N, C, H, W) inputs, weight (out_channels, in_channels / groups,
    kh, kw)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: IntPair,
                 stride: IntPair = 1, padding: IntPair | str = 0, dilation: IntPair = 1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device: Any = None, dtype: Any = None):
        super().__init__(in_channels, out_channels, pair(kernel_size, "kernel_size", "Conv2d"),
                         stride, padding, dilation, groups, bias, padding_mode, device, dtype)

    def forward(self, x: Tensor) -> Tensor:
        x, padding = self._padded(x)
        return F.conv2d(x, self.weight, self.bias, self.stride, padding, self.dilation,
                        self.groups)


class _ConvTransposeNd(_ConvNd):
    """The transposed convolutions: weight (in_channels, out_channels / groups, *kernel)."""

    transposed = True

    def __init__(self, in_channels: int, out_channels: int, kernel_size: tuple, stride: Any,
                 padding: Any, output_padding: Any, groups: int, bias: bool, dilation: Any,
                 padding_mode: str, device: Any, dtype: Any):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, device, dtype)
        self.output_padding = output_padding


class ConvTranspose1d(_ConvTransposeNd):
    """Transposed 1-D convolution of (N, C, L) or (C, L) inputs, weight (in_channels,
    out_channels / groups, k)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int = 0, output_padding: int = 0, groups: int = 1,
                 bias: bool = True, dilation: int = 1, padding_mode: str = "zeros",
                 device: Any = None, dtype: Any = None):
        super().__init__(in_channels, out_channels, _kernel1d(kernel_size, "ConvTranspose1d"),
                         stride, padding, output_padding, groups, bias, dilation, padding_mode,
                         device, dtype)

    def forward(self, x: Tensor) -> Tensor:
        return F.conv_transpose1d(x, self.weight, self.bias, self.stride, self.padding,
                                  self.output_padding, self.groups, self.dilation)


class ConvTranspose2d(_ConvTransposeNd):
    """Transposed 2-D convolution, weight (in_channels, out_channels / groups, kh, kw).

    >>> up = ConvTranspose2d(16, 8, 3, stride=2, padding=1, output_padding=1)  # doubles H, W
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: IntPair,
                 stride: IntPair = 1, padding: IntPair = 0, output_padding: IntPair = 0,
                 groups: int = 1, bias: bool = True, dilation: IntPair = 1,
                 padding_mode: str = "zeros", device: Any = None, dtype: Any = None):
        super().__init__(in_channels, out_channels,
                         pair(kernel_size, "kernel_size", "ConvTranspose2d"), stride, padding,
                         output_padding, groups, bias, dilation, padding_mode, device, dtype)

    def forward(self, x: Tensor) -> Tensor:
        return F.conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding,
                                  self.output_padding, self.groups, self.dilation)


class Upsample(Module):
    """Resizes by `scale_factor` or to `size` (modes 'nearest', 'nearest-exact', 'linear',
    'bilinear', 'trilinear'), as F.interpolate."""

    def __init__(self, size: int | tuple[int, ...] | None = None,
                 scale_factor: float | tuple[float, ...] | None = None, mode: str = "nearest",
                 align_corners: bool | None = None,
                 recompute_scale_factor: bool | None = None):
        super().__init__()
        self.size, self.mode, self.align_corners = size, mode, align_corners
        self.scale_factor = tuple(float(f) for f in scale_factor) \
            if isinstance(scale_factor, (tuple, list)) else \
            float(scale_factor) if scale_factor else None  # as PyTorch stores it
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, x: Tensor) -> Tensor:
        return F.interpolate(x, self.size, self.scale_factor, self.mode, self.align_corners,
                             self.recompute_scale_factor)

    def extra_repr(self) -> str:
        what = f"size={self.size}" if self.size is not None \
            else f"scale_factor={self.scale_factor}"
        return f"{what}, mode={self.mode!r}"


class UpsamplingNearest2d(Upsample):
    """Upsample with mode='nearest' for (N, C, H, W) inputs."""

    def __init__(self, size: int | tuple[int, int] | None = None,
                 scale_factor: float | tuple[float, float] | None = None):
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """Upsample with mode='bilinear' and align_corners=True for (N, C, H, W) inputs."""

    def __init__(self, size: int | tuple[int, int] | None = None,
                 scale_factor: float | tuple[float, float] | None = None):
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)
