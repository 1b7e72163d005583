"""Questions about a tensor that PyTorch programs ask: its kind of dtype, its layout in memory
in elements (`stride`, `storage_offset`, `itemsize`, `nbytes`), where its data lives
(`data_ptr`, `get_device`), whether it equals another; and the complex-number views PyTorch
programs call on real tensors (`conj`, `real`, `resolve_conj`: the tensor itself). No graph
is involved; the answers are plain Python values.

>>> Tensor.zeros(2, 3).T.stride()          # (1, 3)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tinygrad_nv.autograd.function import constant
from tinygrad_nv.autograd.hooks import RETAIN
from tinygrad_nv.backend.launch_args import address
from tinygrad_nv.dtype import dtypes
from tinygrad_nv.ops import Exports
from tinygrad_nv.ops._checks import check_device, is_int, tensor_arg

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


def data_ptr(x: Tensor) -> int:
    """The address of the first element (a device address for cuda tensors): equal for two
    tensors that share their start, as PyTorch code compares them."""
    return address(x._data)


def storage_offset(x: Tensor) -> int:
    """How many elements the first element lies past the start of the memory the tensor
    shares with its base (0 for a tensor that owns its data; a slice x[1:] of a (3, 2)
    tensor: 2), as PyTorch's."""
    base = x._data
    while base.base is not None and hasattr(base.base, "strides"):
        base = base.base
    if hasattr(base.data, "mem"):  # CuPy: the start of the allocation
        return (address(x._data) - base.data.mem.ptr) // x._data.itemsize
    return (address(x._data) - address(base)) // x._data.itemsize


def get_device(x: Tensor) -> int:
    """-1 for a CPU tensor, else the index of its GPU (0 for emu), as PyTorch's."""
    place = x.device
    return -1 if place.type == "cpu" else place.index or 0


def is_signed(x: Tensor) -> bool:
    """Whether the dtype holds negative numbers (floats and signed integers; not uint8 or
    bool)."""
    return x.dtype.kind in "fi" or dtypes.is_float(x.dtype)


def is_nonzero(x: Tensor) -> bool:
    """Whether the single element is not 0 (NaN counts as nonzero), as torch.is_nonzero."""
    if x.numel() != 1:
        many = "no values" if x.numel() == 0 else "more than one value"
        raise RuntimeError(f"is_nonzero: Boolean value of Tensor with {many} is ambiguous "
                           f"(shape {tuple(x.shape)})")
    return x.item() != 0


def is_same_size(x: Tensor, other: Tensor) -> bool:
    """Whether the two tensors have the same shape."""
    return x.shape == tensor_arg(other, "is_same_size", "other").shape


def equal(x: Tensor, other: Tensor) -> bool:
    """True when the two tensors have the same shape and equal elements (NaN is never
    equal), as torch.equal."""
    other = tensor_arg(other, "equal", "other")
    check_device(x, other, "equal")
    return x.shape == other.shape and bool((x == other).all())


def is_conj(x: Tensor) -> bool:
    """False: the dtypes are real, so no tensor has its conjugate bit set."""
    return False


def itself(x: Tensor) -> Tensor:
    """The tensor itself: what conj, resolve_conj, resolve_neg and real are on real dtypes."""
    return x


def isreal(x: Tensor) -> Tensor:
    """Where the elements are real: everywhere (a bool tensor of x's shape), as
    torch.isreal on real dtypes."""
    return constant(lambda xp, a: xp.ones(a.shape, dtype=bool), x)


def retains_grad(x: Tensor) -> bool:
    """Whether retain_grad() was called on this non-leaf tensor (False for leaves)."""
    return x._ctx is not None and RETAIN in (getattr(x, "_hooks", None) or {})


# ---------------------------------------------------------------------- public names
_FUNCTIONS = {  # Tensor methods and package functions (torch.<name>)
    "is_floating_point": is_floating_point, "is_complex": is_complex, "get_device": get_device,
    "is_signed": is_signed, "is_nonzero": is_nonzero, "is_same_size": is_same_size,
    "equal": equal, "is_conj": is_conj, "is_neg": is_conj, "conj": itself,
    "resolve_conj": itself, "resolve_neg": itself, "isreal": isreal, "real": itself,
}
_METHODS = {  # Tensor methods only
    "ndimension": ndimension, "stride": stride, "storage_offset": storage_offset,
    "data_ptr": data_ptr, "real": property(itself, doc="The tensor itself (real dtypes)."),
    "itemsize": property(lambda x: x.dtype.itemsize, doc="The size of one element in bytes."),
    "nbytes": property(lambda x: x.numel() * x.dtype.itemsize,
                       doc="The size of the elements in bytes (numel * itemsize)."),
    "retains_grad": property(retains_grad, doc=retains_grad.__doc__),
}
EXPORTS = Exports(methods={**_FUNCTIONS, **_METHODS}, functions=_FUNCTIONS)
