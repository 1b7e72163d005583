"""Padding layers (PyTorch's names): constant, zero, reflection, replication and circular
padding of the last 1, 2 or 3 axes. `padding` is an int (every side) or PyTorch's flat tuple,
last axis first: (left, right), (left, right, top, bottom), (..., front, back).

>>> nn.ReflectionPad2d((1, 1, 2, 0))(Tensor.randn(1, 3, 4, 4)).shape     # (1, 3, 6, 6)
"""

from __future__ import annotations

from tinygrad_nv._tensor import Tensor
from tinygrad_nv.nn import functional as F
from tinygrad_nv.nn.module import Module
from tinygrad_nv.ops._checks import ShapeError, is_int


class _PadNd(Module):
    """Pads the last `dims` axes with F.pad's `mode`."""

    dims = 1
    mode = "constant"
    value: float | None = None  # the constant modes' fill

    def __init__(self, padding: int | tuple[int, ...]):
        super().__init__()
        name, sides = type(self).__name__, 2 * self.dims
        padding = (padding,) * sides if is_int(padding) else tuple(padding)
        if len(padding) != sides or not all(is_int(p) for p in padding):
            raise ValueError(f"{name}: padding must be an int or {sides} ints, got {padding!r}")
        self.padding = padding

    def forward(self, x: Tensor) -> Tensor:
        if self.mode != "constant" and x.ndim not in (self.dims + 1, self.dims + 2):
            raise ShapeError(f"{type(self).__name__}: expected a {self.dims + 1}-D or "
                             f"{self.dims + 2}-D input (batched), got shape {tuple(x.shape)}")
        return F.pad(x, self.padding, self.mode, self.value)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    def __init__(self, padding: int | tuple[int, ...], value: float):
        super().__init__(padding)
        self.value = value

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class ConstantPad1d(_ConstantPadNd):
    dims = 1


class ConstantPad2d(_ConstantPadNd):
    dims = 2


class ConstantPad3d(_ConstantPadNd):
    dims = 3


class _ZeroPadNd(_ConstantPadNd):
    def __init__(self, padding: int | tuple[int, ...]):
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ZeroPad1d(_ZeroPadNd):
    dims = 1


class ZeroPad2d(_ZeroPadNd):
    dims = 2


class ZeroPad3d(_ZeroPadNd):
    dims = 3


class ReflectionPad1d(_PadNd):
    dims, mode = 1, "reflect"


class ReflectionPad2d(_PadNd):
    dims, mode = 2, "reflect"


class ReflectionPad3d(_PadNd):
    dims, mode = 3, "reflect"


class ReplicationPad1d(_PadNd):
    dims, mode = 1, "replicate"


class ReplicationPad2d(_PadNd):
    dims, mode = 2, "replicate"


class ReplicationPad3d(_PadNd):
    dims, mode = 3, "replicate"


class CircularPad1d(_PadNd):
    dims, mode = 1, "circular"


class CircularPad2d(_PadNd):
    dims, mode = 2, "circular"


class CircularPad3d(_PadNd):
    dims, mode = 3, "circular"
