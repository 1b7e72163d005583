"""`torch.accelerator`: the CUDA GPU when there is one, else none (emu is a test device for
the GPU code, not an accelerator). Thin stand-ins over `tinygrad_nv.cuda`.

>>> device = tinygrad_nv.accelerator.current_accelerator() or "cpu"
"""

from __future__ import annotations

from tinygrad_nv import cuda
from tinygrad_nv.backend.devices import device as Device


def is_available() -> bool:
    """Whether a CUDA GPU can be used."""
    return cuda.is_available()


def current_accelerator(check_available: bool = False) -> Device | None:
    """device('cuda') where a CUDA GPU can be used, else None."""
    return Device("cuda") if cuda.is_available() else None


def device_count() -> int:
    """How many CUDA GPUs are visible."""
    return cuda.device_count()


def current_device_index() -> int:
    """The index of the current GPU."""
    return cuda.current_device()


def synchronize(device: object = None) -> None:
    """Wait for the GPU's queued work."""
    cuda.synchronize(device)
