"""Reverse-mode autograd: grad mode (`mode`), `Function` and version checks (`function`),
the backward engine (`engine`), tensor hooks (`hooks`) and anomaly detection (`anomaly`).

A `Function` computes on raw arrays in `forward` and returns the gradients of its inputs as
Tensors in `backward`, built from differentiable Tensor operations, so that backward itself
can be recorded (`create_graph=True`)."""

import importlib
from typing import Any

from tinygrad_nv.autograd.anomaly import (
    detect_anomaly,
    is_anomaly_enabled,
    record_calls,
    set_detect_anomaly,
)
from tinygrad_nv.autograd.engine import backward, default_grad, grad, run_backward, toposort
from tinygrad_nv.autograd.function import Function, FunctionCtx, constant, device_call
from tinygrad_nv.autograd.hooks import RemovableHandle, register_hook, retain_grad
from tinygrad_nv.autograd.mode import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from tinygrad_nv.autograd.versions import bump_version, new_version_counter


def __getattr__(name: str) -> Any:
    if name == "functional":  # torch.autograd.functional (tinygrad_nv.func), on first use
        return importlib.import_module("tinygrad_nv.autograd.functional")
    raise AttributeError(f"module 'tinygrad_nv.autograd' has no attribute {name!r}")


__all__ = ["Function", "FunctionCtx", "RemovableHandle", "backward", "bump_version", "constant",
           "default_grad", "detect_anomaly", "device_call", "enable_grad", "grad",
           "inference_mode", "is_anomaly_enabled", "is_grad_enabled", "new_version_counter",
           "no_grad", "record_calls", "register_hook", "retain_grad", "run_backward",
           "set_detect_anomaly", "set_grad_enabled", "toposort"]
