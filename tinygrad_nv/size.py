"""Size: PyTorch's `torch.Size`, the tuple of ints that `Tensor.shape` and `Tensor.size()`
return. A tuple subclass, so it goes wherever a shape tuple goes and equals the tuple of the
same ints."""

from __future__ import annotations

import math
import operator
from collections.abc import Iterable
from typing import Any, SupportsIndex


class Size(tuple):
    """The sizes of a tensor's axes, as torch.Size.

    >>> s = Size([2, 3]); s == (2, 3), s.numel(), s[1:]
    (True, 6, tinygrad_nv.Size([3]))
    """

    __slots__ = ()

    def __new__(cls, sizes: Iterable[SupportsIndex] = ()) -> Size:
        values = []
        for i, n in enumerate(sizes):
            if not hasattr(type(n), "__index__"):
                raise TypeError(f"Size() takes an iterable of 'int' (item {i} is "
                                f"'{type(n).__name__}')")
            values.append(operator.index(n))
        return tuple.__new__(cls, values)

    def numel(self) -> int:
        """The number of elements of a tensor of this shape (1 for the empty Size)."""
        return math.prod(self)

    def __getitem__(self, index: Any) -> Any:
        item = tuple.__getitem__(self, index)
        return tuple.__new__(Size, item) if isinstance(index, slice) else item

    def __add__(self, other: Any) -> Any:
        result = tuple.__add__(self, other)
        return result if result is NotImplemented else tuple.__new__(Size, result)

    def __radd__(self, other: Any) -> Any:
        if not isinstance(other, tuple):
            return NotImplemented
        return tuple.__new__(Size, tuple.__add__(other, self))

    def __mul__(self, times: Any) -> Any:
        result = tuple.__mul__(self, times)
        return result if result is NotImplemented else tuple.__new__(Size, result)

    __rmul__ = __mul__

    def __repr__(self) -> str:
        return f"tinygrad_nv.Size({list(self)})"

    __str__ = __repr__

    def __reduce__(self) -> tuple:
        return Size, (tuple(self),)
