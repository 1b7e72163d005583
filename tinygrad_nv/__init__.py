"""tinygrad_nv: a small reverse-mode autodiff tensor framework (NumPy / CuPy + CUDA kernels).

The package carries PyTorch's top-level names, so `import tinygrad_nv as torch` runs common
PyTorch programs: every op's function (`tinygrad_nv.cat`, `tinygrad_nv.exp`), bound from the
ops' tables; creation functions; dtype objects; and `nn`, `optim`, `utils.data`, `autograd`,
`func`, `distributed`, ... as attributes, imported on first use."""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np

from tinygrad_nv import _tensor
from tinygrad_nv._tensor import Tensor
from tinygrad_nv._torch_alias import install as _install_torch_alias
from tinygrad_nv.autograd import (
    enable_grad,
    grad,
    inference_mode,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from tinygrad_nv.backend import Device, canonicalize, get_backend
from tinygrad_nv.backend.devices import device
from tinygrad_nv.creation import (  # noqa: F401  (package functions)
    empty_like,
    full_like,
    meshgrid,
    multinomial,
    ones_like,
    rand_like,
    randint_like,
    randn_like,
    zeros_like,
)
from tinygrad_nv.dtype import DType, dtypes, to_dtype
from tinygrad_nv.function_forms import METHODS as _FUNCTION_FORM_METHODS
from tinygrad_nv.function_forms import PUBLIC as _FUNCTION_FORMS
from tinygrad_nv.info import finfo, iinfo  # noqa: F401  (package classes)
from tinygrad_nv.jit import JitError, jit  # (the function: tinygrad_nv.jit(fn))
from tinygrad_nv.legacy_types import CPU_TYPES as _LEGACY_TYPES
from tinygrad_nv.random import (  # noqa: F401  (package functions)
    Generator,
    default_generator,
    get_rng_state,
    initial_seed,
    manual_seed,
    seed,
    set_rng_state,
)
from tinygrad_nv.settings import (  # noqa: F401  (package functions)
    are_deterministic_algorithms_enabled,
    compile,
    get_default_device,
    is_deterministic_algorithms_warn_only_enabled,
    set_default_device,
    use_deterministic_algorithms,
)
from tinygrad_nv.size import Size
from tinygrad_nv.state import load, save
from tinygrad_nv.tensor_format import (  # noqa: F401  (package functions)
    get_printoptions,
    printoptions,
    set_printoptions,
)
from tinygrad_nv.threads import (  # noqa: F401  (package functions)
    get_num_interop_threads,
    get_num_threads,
    set_num_interop_threads,
    set_num_threads,
)

_install_torch_alias()  # `sys.modules["torch"] = tinygrad_nv; import torch.nn` gets our nn

globals().update(_LEGACY_TYPES)  # FloatTensor, LongTensor, ...: PyTorch's legacy tensor types
for _kind in _tensor.KINDS:  # the ops' functions: tinygrad_nv.exp, tinygrad_nv.cat, ...
    globals().update(_kind.EXPORTS.functions)
globals().update(_FUNCTION_FORMS)  # clone, take, bincount, det, ...: functions without a kind
for _name, _fn in _FUNCTION_FORM_METHODS.items():  # x.take(i), x.det(), ...: the same functions
    setattr(Tensor, _name, _fn)

arange, empty, eye, full = Tensor.arange, Tensor.empty, Tensor.eye, Tensor.full
linspace, logspace, ones, zeros = Tensor.linspace, Tensor.logspace, Tensor.ones, Tensor.zeros
rand, randn, randint, randperm = Tensor.rand, Tensor.randn, Tensor.randint, Tensor.randperm
normal, from_dlpack = Tensor.normal, Tensor.from_dlpack

float32 = float = dtypes.float32
float64 = double = dtypes.float64
float16 = half = dtypes.float16
int8, uint8 = dtypes.int8, dtypes.uint8
int16 = short = dtypes.int16
int32 = int = dtypes.int32
int64 = long = dtypes.int64
bool = dtypes.bool


def tensor(data: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False,
           pin_memory: bool = False) -> Tensor:
    """A new tensor holding a copy of `data` (as torch.tensor): Python numbers and nested
    lists, NumPy arrays, or another tensor.

    >>> tinygrad_nv.tensor([[1, 2], [3, 4]], dtype=tinygrad_nv.float32)
    """
    return Tensor(data, dtype=dtype, device=device, requires_grad=requires_grad)


def as_tensor(data: Any, dtype: Any = None, device: Any = None) -> Tensor:
    """`data` as a tensor, sharing memory where it can, as torch.as_tensor: a tensor already
    of that dtype and device is returned itself (else converted, differentiably), a NumPy
    array of a supported dtype bound for the CPU is shared; anything else is copied.

    >>> tinygrad_nv.as_tensor(np.arange(3.0), device="cpu")    # shares the array's memory
    """
    if isinstance(data, Tensor):
        return data.to(device=device, dtype=dtype)
    if isinstance(data, np.ndarray) and data.dtype in dtypes.all and canonicalize(device) \
            == "cpu" and (dtype is None or to_dtype(dtype) == data.dtype):
        return from_numpy(data)
    return Tensor(data, dtype=dtype, device=device)


def from_numpy(ndarray: np.ndarray) -> Tensor:
    """A CPU tensor sharing memory with a NumPy array (writes to either show in the other),
    as torch.from_numpy; the array keeps its dtype.

    >>> a = np.zeros(3); t = tinygrad_nv.from_numpy(a); a[0] = 1.0   # t[0] is 1.0 too
    """
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"from_numpy: expected np.ndarray (got {type(ndarray).__name__})")
    if ndarray.dtype not in dtypes.all:
        raise TypeError(f"from_numpy: can't convert np.ndarray of type {ndarray.dtype}; the "
                        f"supported types are: {', '.join(d.name for d in dtypes.all)}")
    return Tensor._from_op(ndarray, get_backend("cpu"), None)


def is_tensor(obj: Any) -> bool:
    """Whether `obj` is a Tensor (a Parameter too)."""
    return isinstance(obj, Tensor)


def numel(input: Tensor) -> int:  # noqa: A002  (PyTorch's name)
    """The number of elements of a tensor."""
    return input.numel()


def get_default_dtype() -> DType:
    """The dtype of tensors made from Python floats (float32 unless set_default_dtype)."""
    return dtypes.default_float


def set_default_dtype(d: Any) -> None:
    """Make `d` (a floating point dtype) the dtype of tensors made from Python floats and of
    zeros, ones, rand, ... without a dtype, as torch.set_default_dtype.

    >>> tinygrad_nv.set_default_dtype(tinygrad_nv.float64)
    """
    dt = to_dtype(d)
    if not dtypes.is_float(dt):
        raise TypeError(f"set_default_dtype: only floating-point types are supported as the "
                        f"default type, got {dt.name}")
    dtypes.default_float = dt


_MATMUL_PRECISIONS = ("highest", "high", "medium")
_matmul_precision = ["highest"]


def set_float32_matmul_precision(precision: str) -> None:
    """Accepted for PyTorch programs; changes nothing: float32 products always run in full
    float32 here ('highest')."""
    if precision not in _MATMUL_PRECISIONS:
        raise ValueError(f"set_float32_matmul_precision: expected one of "
                         f"{_MATMUL_PRECISIONS}, got {precision!r}")
    _matmul_precision[0] = precision


def get_float32_matmul_precision() -> str:
    """The value last given to set_float32_matmul_precision ('highest' by default)."""
    return _matmul_precision[0]


# submodules reachable as attributes after `import tinygrad_nv`, imported on first use
_SUBMODULES = ("nn", "optim", "data", "utils", "autograd", "func", "distributed", "testing",
               "viz", "state", "cuda", "backends", "accelerator", "onnx", "amp", "distributions",
               "linalg", "special")


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"tinygrad_nv.{name}")
    if name == "autocast":  # torch.autocast
        return importlib.import_module("tinygrad_nv.amp").autocast
    if name == "bfloat16":  # ml_dtypes is imported on first use (ImportError naming the extra)
        return dtypes.bfloat16
    raise AttributeError(f"module 'tinygrad_nv' has no attribute {name!r}")


# `from tinygrad_nv import *` brings the core names only (sum, max, abs... would shadow builtins)
__all__ = ["Tensor", "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled",
           "inference_mode", "grad", "dtypes", "Device", "manual_seed", "save", "load", "tensor",
           "device", "Generator", "jit", "JitError", "Size"]
__version__ = "0.1.0"
