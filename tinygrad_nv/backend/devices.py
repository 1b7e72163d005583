"""`device`: PyTorch's device object (`tinygrad_nv.device("cuda:0")`), a type and an optional
index. It is accepted wherever a device name is, and `Tensor.device` returns one."""

from __future__ import annotations

import numbers
from typing import Any

TYPES = ("cpu", "cuda", "emu")  # emu: the CUDA launch code and kernels, run on the CPU


class device:  # noqa: N801  (PyTorch's spelling)
    """Where a tensor lives: `type` ('cpu', 'cuda' or 'emu') and `index` (None or an int).

    Equal to another device of the same type and index (`device("cuda") != device("cuda:0")`,
    as in PyTorch), never to a plain string.

    >>> d = tinygrad_nv.device("cuda", 1)
    >>> d.type, d.index, str(d)       # ('cuda', 1, 'cuda:1')
    """

    __slots__ = ("_type", "_index")

    def __init__(self, type: Any, index: int | None = None):  # noqa: A002  (PyTorch's names)
        if isinstance(type, device):
            if index is not None:
                raise RuntimeError(f"device: type {type} must not include an index because "
                                   "index was passed explicitly")
            type, index = type._type, type._index  # noqa: A001
        elif isinstance(type, numbers.Integral) and not isinstance(type, bool):
            type, index = "cuda", int(type)  # noqa: A001  (an int is a GPU index, as PyTorch)
        elif isinstance(type, str):
            type, index = _parse(type, index)  # noqa: A001
        else:
            raise TypeError(f"device: expected a device string such as 'cuda:0', a device or "
                            f"an int index, got {type.__class__.__name__}")
        if index is not None and (isinstance(index, bool)
                                  or not isinstance(index, numbers.Integral)):
            raise TypeError(f"device: argument 'index' must be int, not "
                            f"{index.__class__.__name__}")
        if index is not None and index < 0:
            raise RuntimeError(f"device: index must not be negative, got {index}")
        object.__setattr__(self, "_type", type)
        object.__setattr__(self, "_index", None if index is None else int(index))

    @property
    def type(self) -> str:
        """'cpu', 'cuda' or 'emu'."""
        return self._type

    @property
    def index(self) -> int | None:
        """The device's number, or None where none was given."""
        return self._index

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"attribute {name!r} of 'device' objects is not writable")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, device):
            return NotImplemented
        return self._type == other._type and self._index == other._index

    def __hash__(self) -> int:
        return hash((self._type, self._index))

    def __str__(self) -> str:
        return self._type if self._index is None else f"{self._type}:{self._index}"

    def __repr__(self) -> str:
        index = "" if self._index is None else f", index={self._index}"
        return f"device(type='{self._type}'{index})"

    def __reduce__(self) -> tuple:
        return device, (self._type, self._index)


def _parse(name: str, index: Any) -> tuple[str, int | None]:
    """'cuda:1' -> ('cuda', 1), with PyTorch's checks (exact spelling, no leading zeros)."""
    kind, colon, number = name.partition(":")
    if kind not in TYPES:
        raise RuntimeError(f"Expected one of {', '.join(TYPES)} device type at start of "
                           f"device string: {name}")
    if colon:
        if not number.isdigit() or (number != "0" and number.startswith("0")) \
                or not number.isascii():
            raise RuntimeError(f"Invalid device string: {name!r}")
        if index is not None:
            raise RuntimeError(f"device: type (string) must not include an index because "
                               f"index was passed explicitly: {name}")
        return kind, int(number)
    return kind, index
