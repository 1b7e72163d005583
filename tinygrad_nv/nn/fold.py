"""Block rearranging layers: Unfold (sliding blocks -> columns), Fold (columns -> image),
PixelShuffle and PixelUnshuffle, with PyTorch's arguments.

>>> up = nn.Sequential(nn.Conv2d(16, 4 * 16, 3, padding=1), nn.PixelShuffle(2))  # doubles H, W
"""

from __future__ import annotations

from tinygrad_nv._tensor import Tensor
from tinygrad_nv.nn.module import Module
from tinygrad_nv.ops import fold as ops

IntPair = int | tuple[int, int]


class Unfold(Module):
    """(N, C, H, W) -> (N, C*kh*kw, L): each sliding block a column."""

    def __init__(self, kernel_size: IntPair, dilation: IntPair = 1, padding: IntPair = 0,
                 stride: IntPair = 1):
        super().__init__()
        self.kernel_size, self.dilation, self.padding, self.stride = (kernel_size, dilation,
                                                                      padding, stride)

    def forward(self, x: Tensor) -> Tensor:
        return ops.unfold(x, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, dilation={self.dilation}, "
                f"padding={self.padding}, stride={self.stride}")


class Fold(Unfold):
    """(N, C*kh*kw, L) -> (N, C, *output_size): columns summed back where blocks overlap."""

    def __init__(self, output_size: IntPair, kernel_size: IntPair, dilation: IntPair = 1,
                 padding: IntPair = 0, stride: IntPair = 1):
        super().__init__(kernel_size, dilation, padding, stride)
        self.output_size = output_size

    def forward(self, x: Tensor) -> Tensor:
        return ops.fold(x, self.output_size, self.kernel_size, self.dilation, self.padding,
                        self.stride)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}, {super().extra_repr()}"


class PixelShuffle(Module):
    """(*, C*r*r, H, W) -> (*, C, H*r, W*r), r = upscale_factor."""

    def __init__(self, upscale_factor: int):
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, x: Tensor) -> Tensor:
        return ops.pixel_shuffle(x, self.upscale_factor)

    def extra_repr(self) -> str:
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """(*, C, H*r, W*r) -> (*, C*r*r, H, W), r = downscale_factor."""

    def __init__(self, downscale_factor: int):
        super().__init__()
        self.downscale_factor = downscale_factor

    def forward(self, x: Tensor) -> Tensor:
        return ops.pixel_unshuffle(x, self.downscale_factor)

    def extra_repr(self) -> str:
        return f"downscale_factor={self.downscale_factor}"
