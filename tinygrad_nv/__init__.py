"""tinygrad_nv: a small reverse-mode autodiff tensor framework (NumPy / CuPy + CUDA kernels).

The package carries PyTorch's top-level names, so `import tinygrad_nv as torch` runs common
PyTorch programs: every op's function (`tinygrad_nv.cat`, `tinygrad_nv.exp`), bound from the
ops' tables; creation functions; dtype objects; and `nn`, `optim`, `utils.data`, `autograd`,
`func`, `distributed`, ... as attributes, imported on first use."""

from __future__ import annotations

import importlib
from typing import Any

from tinygrad_nv import _tensor
from tinygrad_nv._tensor import Tensor
from tinygrad_nv.autograd import (
    enable_grad,
    grad,
    inference_mode,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from tinygrad_nv.backend import Device, manual_seed
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
from tinygrad_nv.dtype import dtypes
from tinygrad_nv.state import load, save

for _kind in _tensor.KINDS:  # the ops' functions: tinygrad_nv.exp, tinygrad_nv.cat, ...
    globals().update(_kind.EXPORTS.functions)

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


# submodules reachable as attributes after `import tinygrad_nv`, imported on first use
_SUBMODULES = ("nn", "optim", "data", "utils", "autograd", "func", "distributed", "testing",
               "viz", "state")


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"tinygrad_nv.{name}")
    raise AttributeError(f"module 'tinygrad_nv' has no attribute {name!r}")


# `from tinygrad_nv import *` brings the core names only (sum, max, abs... would shadow builtins)
__all__ = ["Tensor", "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled",
           "inference_mode", "grad", "dtypes", "Device", "manual_seed", "save", "load", "tensor"]
__version__ = "0.1.0"
