"""Questions about a tensor that PyTorch programs ask: its kind of dtype, its layout in memory
in elements (`stride`, `storage_offset`), where its data lives (`data_ptr`, `get_device`).
No graph is involved; the answers are plain Python values.

>>> Tensor.zeros(2, 3).T.stride()          # (1, 3)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tinygrad_nv.dtype import dtypes
from tinygrad_nv.ops import Exports
from tinygrad_nv.ops._checks import is_int

if TYPE_CHECKING:
    from tinygrad_nv._tensor import Tensor


def is_floating_point(x: Tensor) -> bool:
    """True for float16, bfloat16, float32 and float64 tensors."""
    return dtypes.is_float(x.dtype)


def is_complex(x: Tensor) -> bool:
    """False: the dtypes are real (PyTorch's question, for code that branches on it)."""
    return x.dtype.kind == "c"


def ndimension(x: Tensor) -> int:
    """The number of axes (PyTorch's old spelling of dim())."""
    return x.ndim


def stride(x: Tensor, dim: int | None = None, *, axis: int | None = None) -> Any:
    """The steps in memory between neighbours along each axis, in elements (not bytes) as
    PyTorch's: a tuple, or the step of axis `dim` (or `axis`). Views (transposes, slices,
    expanded axes: 0) report their own steps.

    >>> Tensor.zeros(2, 3).stride(), Tensor.zeros(2, 3).stride(-1)     # ((3, 1), 1)
    """
    steps = tuple(s // x._data.itemsize for s in x._data.strides)
    chosen = axis if dim is None else dim
    if chosen is None:
        return steps
    n = max(x.ndim, 1)
    if not is_int(chosen) or not -n <= chosen < n:
        raise IndexError(f"stride: dim {chosen!r} is out of range for a tensor of shape "
                         f"{tuple(x.shape)} (valid: {-n} to {n - 1})")
    return steps[chosen % n] if x.ndim else 1


def _address(array: Any) -> int:
    """The address of an array's first element (CuPy: its device pointer)."""
    return array.data.ptr if hasattr(array.data, "ptr") else array.__array_interface__["data"][0]


def data_ptr(x: Tensor) -> int:
    """The address of the first element (a device address for cuda tensors): equal for two
    tensors that share their start, as PyTorch code compares them."""
    return _address(x._data)


def storage_offset(x: Tensor) -> int:
    """How many elements the first element lies past the start of the memory the tensor
    shares with its base (0 for a tensor that owns its data; a slice x[1:] of a (3, 2)
    tensor: 2), as PyTorch's."""
    base = x._data
    while base.base is not None and hasattr(base.base, "strides"):
        base = base.base
    if hasattr(base.data, "mem"):  # CuPy: the start of the allocation
        return (_address(x._data) - base.data.mem.ptr) // x._data.itemsize
    return (_address(x._data) - _address(base)) // x._data.itemsize


def get_device(x: Tensor) -> int:
    """-1 for a CPU tensor, else the index of its GPU (0 for emu), as PyTorch's."""
    place = x.device
    return -1 if place.type == "cpu" else place.index or 0


# ---------------------------------------------------------------------- public names
_METHODS = {  # Tensor methods
    "is_floating_point": is_floating_point, "is_complex": is_complex, "ndimension": ndimension,
    "stride": stride, "storage_offset": storage_offset, "data_ptr": data_ptr,
    "get_device": get_device,
}
EXPORTS = Exports(methods=_METHODS, functions={
    "is_floating_point": is_floating_point, "is_complex": is_complex, "get_device": get_device})
