"""Rearranging image blocks: unfold (sliding blocks -> columns, im2col) and fold (columns
summed back into an image, col2im), pixel_shuffle and pixel_unshuffle (channels <->
space). unfold and fold are ops/conv.py's Im2Col and Col2Im Functions, each the other's
gradient; the pixel shuffles are a reshape and a permute.

>>> cols = F.unfold(x, kernel_size=3, padding=1)    # (N, C*9, H*W)
>>> F.fold(cols, (H, W), 3, padding=1)               # each pixel summed over its 9 blocks
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tinygrad_nv.ops import Exports
from tinygrad_nv.ops._checks import ShapeError, is_int
from tinygrad_nv.ops.conv import Col2Im, Im2Col, pair, window

if TYPE_CHECKING:
    from tinygrad_nv._tensor import Tensor

IntPair = int | tuple[int, int]


def unfold(x: Tensor, kernel_size: IntPair, dilation: IntPair = 1, padding: IntPair = 0,
           stride: IntPair = 1) -> Tensor:
    """The sliding kh x kw blocks of x (N, C, H, W) as columns: (N, C*kh*kw, L), L the
    number of blocks, rows ordered channel first (as PyTorch); (C, H, W) gives (C*kh*kw, L).

    >>> F.unfold(Tensor.ones(1, 2, 3, 3), 2).shape       # (1, 8, 4)
    """
    if x.ndim == 3:
        return unfold(x.unsqueeze(0), kernel_size, dilation, padding, stride)[0]
    if x.ndim != 4:
        raise ValueError(f"unfold: expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, got "
                         f"shape {tuple(x.shape)}")
    geometry = window("unfold", x.shape, pair(kernel_size, "kernel_size", "unfold"), stride,
                      padding, dilation)
    geometry.pop("out")
    return Im2Col.apply(x, **geometry)


def fold(x: Tensor, output_size: IntPair, kernel_size: IntPair, dilation: IntPair = 1,
         padding: IntPair = 0, stride: IntPair = 1) -> Tensor:
    """The adjoint of unfold: columns (N, C*kh*kw, L) summed into an image (N, C, *output_size)
    where their blocks overlap; (C*kh*kw, L) gives (C, *output_size).

    >>> F.fold(F.unfold(x, 2), x.shape[2:], 2)             # x where blocks do not overlap
    """
    if x.ndim == 2:
        return fold(x.unsqueeze(0), output_size, kernel_size, dilation, padding, stride)[0]
    if x.ndim != 3:
        raise ValueError(f"fold: expected a 2-D (C*kh*kw, L) or 3-D (N, C*kh*kw, L) input, got "
                         f"shape {tuple(x.shape)}")
    kernel, size = pair(kernel_size, "kernel_size", "fold"), pair(output_size, "output_size",
                                                                  "fold")
    n, rows, blocks = x.shape
    if rows % (kernel[0] * kernel[1]):
        raise ShapeError(f"fold: the input's dimension 1 ({rows}) must be divisible by the "
                         f"product of kernel_size {kernel}, got input of shape {tuple(x.shape)}")
    image = (n, rows // (kernel[0] * kernel[1]), *size)
    geometry = window("fold", image, kernel, stride, padding, dilation)
    oh, ow = geometry.pop("out")
    if blocks != oh * ow:
        raise ShapeError(f"fold: output_size {size}, kernel_size {kernel}, dilation "
                         f"{geometry['dilation']}, padding {geometry['padding']} and stride "
                         f"{geometry['stride']} give {oh} * {ow} = {oh * ow} sliding blocks, "
                         f"but the input's dimension 2 is {blocks} (input of shape "
                         f"{tuple(x.shape)})")
    return Col2Im.apply(x, x_shape=image, **geometry)


def pixel_shuffle(x: Tensor, upscale_factor: int) -> Tensor:
    """(*, C*r*r, H, W) -> (*, C, H*r, W*r), r = upscale_factor (sub-pixel convolution's
    rearrangement).

    >>> F.pixel_shuffle(Tensor.randn(1, 8, 3, 3), 2).shape     # (1, 2, 6, 6)
    """
    r = _factor(x, upscale_factor, "pixel_shuffle", "upscale_factor")
    *lead, c, h, w = x.shape
    if c % (r * r):
        raise ShapeError(f"pixel_shuffle: the channel dimension (-3) must be divisible by "
                         f"upscale_factor ** 2 = {r * r}, got input of shape {tuple(x.shape)}")
    k = len(lead)
    out = x.reshape(*lead, c // (r * r), r, r, h, w)
    out = out.permute(*range(k), k, k + 3, k + 1, k + 4, k + 2)
    return out.reshape(*lead, c // (r * r), h * r, w * r)


def pixel_unshuffle(x: Tensor, downscale_factor: int) -> Tensor:
    """(*, C, H*r, W*r) -> (*, C*r*r, H, W), r = downscale_factor: pixel_shuffle's inverse.

    >>> F.pixel_unshuffle(Tensor.randn(1, 2, 6, 6), 2).shape   # (1, 8, 3, 3)
    """
    r = _factor(x, downscale_factor, "pixel_unshuffle", "downscale_factor")
    *lead, c, h, w = x.shape
    if h % r or w % r:
        raise ShapeError(f"pixel_unshuffle: height and width must be divisible by "
                         f"downscale_factor {r}, got input of shape {tuple(x.shape)}")
    k = len(lead)
    out = x.reshape(*lead, c, h // r, r, w // r, r)
    out = out.permute(*range(k), k, k + 2, k + 4, k + 1, k + 3)
    return out.reshape(*lead, c * r * r, h // r, w // r)


def _factor(x: Tensor, factor: Any, op: str, name: str) -> int:
    if not is_int(factor) or factor < 1:
        raise ValueError(f"{op}: {name} must be a positive int, got {factor!r}")
    if x.ndim < 3:
        raise ValueError(f"{op}: expected an input with at least 3 dimensions (*, C, H, W), "
                         f"got shape {tuple(x.shape)}")
    return int(factor)


EXPORTS = Exports(functional={"unfold": unfold, "fold": fold, "pixel_shuffle": pixel_shuffle,
                              "pixel_unshuffle": pixel_unshuffle})
