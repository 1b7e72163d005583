"""PyTorch's legacy tensor types: `torch.FloatTensor`, `torch.LongTensor`, ... and their
`torch.cuda.*` twins, as older programs use them.

Calling one builds a tensor of its dtype on its device, as PyTorch's legacy constructor:
`LongTensor(5)` and `FloatTensor(2, 3)` are tensors of that size (zeros here; PyTorch leaves
the memory uninitialised), `FloatTensor([1, 2])` or a NumPy array is the data converted,
`FloatTensor()` is empty, and a tensor of the same dtype is returned as it is (PyTorch: an
alias sharing its memory; one of another dtype raises). `isinstance(t, torch.FloatTensor)`
asks whether `t` is a float32 tensor on the CPU (a GPU for the `cuda` types);
`t.type(torch.LongTensor)` converts.

>>> tinygrad_nv.LongTensor(3).shape, tinygrad_nv.FloatTensor([1, 2]).dtype
((3,), float32)
"""

from __future__ import annotations

from typing import Any

from tinygrad_nv._tensor import _TYPE_NAMES, Tensor
from tinygrad_nv.dtype import to_dtype


class LegacyTensorType(type):
    """The metaclass of FloatTensor & co.: the class is a constructor and an isinstance
    check; `dtype`, `is_cuda` and `legacy_name` ('torch.FloatTensor') are its attributes."""

    def __call__(cls, *args: Any, device: Any = None) -> Tensor:
        device = device if device is not None else ("cuda" if cls.is_cuda else "cpu")
        if not args:
            return Tensor.empty(0, dtype=cls.dtype, device=device)
        if all(isinstance(a, int) and not isinstance(a, bool) for a in args):
            return Tensor.empty(*args, dtype=cls.dtype, device=device)
        if len(args) > 1:
            raise TypeError(f"{cls.legacy_name}(): expected sizes (ints), one sequence of "
                            f"data or a tensor, got {len(args)} arguments "
                            f"({', '.join(type(a).__name__ for a in args)})")
        data = args[0]
        if isinstance(data, Tensor):
            if data.dtype != cls.dtype:
                raise TypeError(f"{cls.legacy_name}(): expected a tensor of dtype "
                                f"{cls.dtype.name}, got {data.dtype.name}")
            return data
        if isinstance(data, (int, float, complex, bool)):
            raise TypeError(f"{cls.legacy_name}(): data must be a sequence (got "
                            f"{type(data).__name__})")
        return Tensor(data, dtype=cls.dtype, device=device)

    @property
    def dtype(cls) -> Any:  # resolved when asked: bfloat16's imports ml_dtypes
        return to_dtype(cls.dtype_name)

    def __instancecheck__(cls, obj: Any) -> bool:
        return isinstance(obj, Tensor) and obj.dtype == cls.dtype and obj.is_cuda == cls.is_cuda

    def __repr__(cls) -> str:
        return f"<class '{cls.legacy_name}'>"


def _types(cuda: bool) -> dict[str, LegacyTensorType]:
    prefix = "torch.cuda." if cuda else "torch."
    made = {}
    for dtype_name, kind in _TYPE_NAMES.items():
        name = f"{kind}Tensor"
        made[name] = LegacyTensorType(name, (), {
            "dtype_name": dtype_name, "is_cuda": cuda, "legacy_name": prefix + name,
            "__doc__": f"PyTorch's legacy {prefix}{name}: {dtype_name} tensors."})
    return made


CPU_TYPES = _types(cuda=False)  # tinygrad_nv.FloatTensor, ...
CUDA_TYPES = _types(cuda=True)  # tinygrad_nv.cuda.FloatTensor, ...
