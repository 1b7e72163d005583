"""`finfo` and `iinfo`: the numerical limits of a dtype, as torch.finfo / torch.iinfo
(`torch.finfo(x.dtype).min` is how attention masks spell minus infinity). Values are Python
floats (finfo) and ints (iinfo); `dtype` is the dtype's name, as PyTorch's."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_nv.dtype import dtypes, is_floating, to_dtype


def _dtype(op: str, type: Any) -> np.dtype:  # noqa: A002  (PyTorch's argument name)
    if type is None:
        raise TypeError(f"{op}(): argument 'type' must be a dtype, not NoneType")
    return to_dtype(type)


class finfo:  # noqa: N801  (PyTorch's spelling)
    """The limits of a floating point dtype (the default dtype when none is given):
    `bits eps max min tiny smallest_normal resolution dtype`.

    >>> tinygrad_nv.finfo(tinygrad_nv.float32).eps     # 1.1920928955078125e-07
    """

    def __init__(self, type: Any = None) -> None:  # noqa: A002  (PyTorch's argument name)
        dt = dtypes.default_float if type is None else _dtype("finfo", type)
        if not is_floating(dt):
            raise TypeError(f"torch.finfo() requires a floating point input type, got "
                            f"{dt.name}. Use torch.iinfo to handle 'torch.finfo'")
        if dt.name == "bfloat16":
            import ml_dtypes  # loaded already: dtypes.bfloat16 imported it
            info = ml_dtypes.finfo(dt)
        else:
            info = np.finfo(dt)
        self.bits: int = int(info.bits)
        self.eps: float = float(info.eps)
        self.max: float = float(info.max)
        self.min: float = float(info.min)
        self.tiny: float = float(info.smallest_normal)
        self.smallest_normal: float = self.tiny
        self.resolution: float = 10.0 ** -int(info.precision)  # bfloat16's info: rounded
        self.dtype: str = dt.name

    def __eq__(self, other: object) -> bool:
        return isinstance(other, finfo) and other.dtype == self.dtype

    __hash__ = None  # as PyTorch's: equal by value, unhashable

    def __repr__(self) -> str:
        return (f"finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, "
                f"eps={self.eps:g}, smallest_normal={self.smallest_normal:g}, "
                f"tiny={self.tiny:g}, dtype={self.dtype})")


class iinfo:  # noqa: N801  (PyTorch's spelling)
    """The limits of an integer dtype: `bits min max dtype`.

    >>> tinygrad_nv.iinfo(tinygrad_nv.int8).max        # 127
    """

    def __init__(self, type: Any) -> None:  # noqa: A002  (PyTorch's argument name)
        dt = _dtype("iinfo", type)
        if dt.kind == "b":
            raise TypeError("torch.bool is not supported by torch.iinfo")
        if dt.kind not in "iu":
            raise TypeError(f"torch.iinfo() requires an integer input type, got {dt.name}. "
                            f"Use torch.finfo to handle 'torch.iinfo'")
        info = np.iinfo(dt)
        self.bits: int = int(info.bits)
        self.min: int = int(info.min)
        self.max: int = int(info.max)
        self.dtype: str = dt.name

    def __eq__(self, other: object) -> bool:
        return isinstance(other, iinfo) and other.dtype == self.dtype

    __hash__ = None  # as PyTorch's

    def __repr__(self) -> str:
        return f"iinfo(min={self.min:g}, max={self.max:g}, dtype={self.dtype})"
