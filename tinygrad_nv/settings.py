"""PyTorch's process-wide switches that programs call first thing: `compile`,
`use_deterministic_algorithms` and `set_default_device` / `get_default_device`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tinygrad_nv import backend
from tinygrad_nv.backend.devices import device

_MODES = (None, "default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")


def compile(model: Callable | None = None, *, fullgraph: bool = False,  # noqa: A001
            dynamic: bool | None = None, backend: Any = "inductor", mode: str | None = None,
            options: dict | None = None, disable: bool = False) -> Any:
    """`model` (a Module or a function) unchanged, as torch.compile's result behaves: nothing
    is compiled here. PyTorch's keywords are accepted and checked, and it works as a decorator
    with or without arguments. To capture a training step once and replay it without Python
    overhead (a CUDA graph on cuda), use `tinygrad_nv.jit`.

    >>> model = tinygrad_nv.compile(model, mode="max-autotune")    # the same model
    """
    if mode not in _MODES:
        raise RuntimeError(f"compile: unrecognized mode={mode!r}; valid: {_MODES[1:]}")
    if mode is not None and options is not None:
        raise RuntimeError("compile: either mode or options can be specified, but both can't "
                           "be specified at the same time")
    if model is None:
        return lambda fn: fn
    if not callable(model):
        raise RuntimeError(f"compile: the model must be callable (a Module or a function), "
                           f"got {type(model).__name__}")
    return model


_deterministic = {"mode": False, "warn_only": False}


def use_deterministic_algorithms(mode: bool, *, warn_only: bool = False) -> None:
    """Record PyTorch's determinism flag (read back by are_deterministic_algorithms_enabled).
    It changes no op: every op here gives the same bits for the same inputs and seed on the
    CPU; nothing chooses between deterministic and faster kernels."""
    if not isinstance(mode, bool) or not isinstance(warn_only, bool):
        raise TypeError(f"use_deterministic_algorithms: mode and warn_only must be bools, got "
                        f"{type(mode).__name__} and {type(warn_only).__name__}")
    _deterministic.update(mode=mode, warn_only=warn_only)


def are_deterministic_algorithms_enabled() -> bool:
    """The mode last given to use_deterministic_algorithms (False at start)."""
    return _deterministic["mode"]


def is_deterministic_algorithms_warn_only_enabled() -> bool:
    """The warn_only flag last given to use_deterministic_algorithms (False at start)."""
    return _deterministic["warn_only"]


_startup: list = []  # the default device before the first set_default_device


def set_default_device(device: Any) -> None:
    """The device of tensors created without `device=` ('cpu', 'cuda', 'cuda:1', 'emu', a
    device object or a GPU index), as torch.set_default_device; None restores the default
    chosen at start (TINYGRAD_NV_DEVICE, else cuda where there is a GPU, else cpu). The same
    setting as `Device.DEFAULT`."""
    if not _startup:
        _startup.append(backend.default_device())
    backend.set_default_device(_startup[0] if device is None else device)


def get_default_device() -> device:
    """The device tensors are created on without `device=`, as a device object."""
    return device(backend.default_device())
