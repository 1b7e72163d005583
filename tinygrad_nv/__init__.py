"""tinygrad_nv: a small reverse-mode autodiff tensor framework (NumPy / CuPy + CUDA kernels)."""

from tinygrad_nv.autograd import (
    enable_grad,
    grad,
    inference_mode,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from tinygrad_nv.backend import Device, manual_seed
from tinygrad_nv.dtype import dtypes
from tinygrad_nv.functions import *  # noqa: F403  (torch-style functions: tinygrad_nv.cat, exp...)
from tinygrad_nv.state import load, save
from tinygrad_nv.tensor import Tensor

# `from tinygrad_nv import *` brings the core names only (sum, max, abs... would shadow builtins)
__all__ = ["Tensor", "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled",
           "inference_mode", "grad",
           "dtypes", "Device", "manual_seed", "save", "load"]
__version__ = "0.1.0"
