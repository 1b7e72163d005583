"""Arguments of Tensor's own methods, as PyTorch takes them: the positional forms of `.to`
(and `Module.to`), and the checks of `tensor.grad = value` and `tensor.data = value`."""

from __future__ import annotations

from typing import Any

from tinygrad_nv.backend import devices
from tinygrad_nv.dtype import dtypes, is_floating
from tinygrad_nv.ops._checks import is_tensor

_DTYPE_NAMES = {d.name for d in dtypes.all} | {"float", "double", "half", "int", "long",
                                                "char", "byte", "short", "bfloat16"}


def to_args(args: tuple, device: Any, dtype: Any, copy: bool, op: str) -> tuple:
    """(device, dtype, copy) from the positional forms of torch's `.to`: a device (a device,
    a name, a GPU index), a dtype, a tensor (its device and dtype), then the bools
    non_blocking and copy."""
    flags = []
    for arg in args:
        if is_tensor(arg):
            device, dtype = arg._backend.name, arg.dtype
        elif isinstance(arg, bool):
            flags.append(arg)
        elif isinstance(arg, (devices.device, int)):
            device = arg
        elif isinstance(arg, str) and arg.split(":")[0].lower() in ("cpu", "cuda", "gpu",
                                                                    "emu"):
            device = arg
        elif isinstance(arg, str) and arg not in _DTYPE_NAMES:
            raise ValueError(f"{op}: {arg!r} is neither a device ('cpu', 'cuda', 'cuda:N', "
                             f"'emu') nor a dtype ({', '.join(sorted(_DTYPE_NAMES))})")
        else:
            dtype = arg
    if len(flags) > 2:
        raise TypeError(f"{op}: too many positional bools {flags}; expected (non_blocking, "
                        "copy)")
    return device, dtype, copy or flags[1:] == [True]


def check_assigned(tensor: Any, value: Any, what: str) -> None:
    """PyTorch's checks of `tensor.grad = value` and `tensor.data = value`."""
    if not is_tensor(value):
        raise TypeError(f"assigned {what} expected to be a Tensor{' or None' * (what == 'grad')}"
                        f" but got {what} of type {type(value).__name__}")
    if what == "data":
        if tensor._requires_grad and not is_floating(value.dtype):
            raise RuntimeError(f"data set to a tensor that requires gradients must be floating "
                               f"point, got dtype {value.dtype.name}")
    elif value._backend is not tensor._backend:
        raise RuntimeError(f"attempting to assign a gradient on device {value.device} to a "
                           f"tensor on device {tensor.device}; move it with "
                           f".to('{tensor.device}')")
    elif value.shape != tensor.shape:
        raise RuntimeError(f"attempting to assign a gradient of shape {tuple(value.shape)} to a "
                           f"tensor of shape {tuple(tensor.shape)}; the gradient and the tensor "
                           "must have the same shape")
    elif value.dtype != tensor.dtype:
        raise RuntimeError(f"attempting to assign a gradient of dtype {value.dtype.name} to a "
                           f"tensor of dtype {tensor.dtype.name}; they must match")
