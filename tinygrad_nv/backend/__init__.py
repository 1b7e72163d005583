"""Devices: `cpu` (NumPy), `cuda` / `cuda:N` (CuPy + our kernels), `emu` (the CuPy backend's
launch code on NumPy arrays, running the CUDA kernel sources compiled for the CPU)."""

from __future__ import annotations

import numbers
import os
import threading
from typing import Any

from tinygrad_nv.backend import devices
from tinygrad_nv.backend.base import Backend
from tinygrad_nv.backend.cpu import CPUBackend

ENV_VAR = "TINYGRAD_NV_DEVICE"
GPU_INSTALL_HINT = ("install CuPy for the CUDA major version nvidia-smi shows: pip install "
                    "'tinygrad_nv[cuda12]' (alias 'tinygrad_nv[gpu]') or 'tinygrad_nv[cuda13]'")

_backends: dict[str, Backend] = {}
_lock = threading.Lock()  # creating a backend: once per device, whatever the threads
_seed: int | None = None
_default: str | None = None
current_cuda = [0]  # the GPU that 'cuda' without an index names (cuda.set_device changes it)


def cuda_unavailable_reason() -> str | None:
    """Why the `cuda` device cannot be used here, or None when it can."""
    try:
        import cupy
    except ImportError as e:
        return f"CuPy is not installed ({e}); {GPU_INSTALL_HINT}"
    try:
        if cupy.cuda.runtime.driverGetVersion() == 0:
            return ("CuPy is installed but no NVIDIA driver was found; install the NVIDIA "
                    "driver, or use device 'cpu' (or 'emu' to run the CUDA kernels on the CPU)")
        count = cupy.cuda.runtime.getDeviceCount()
    except RuntimeError as e:
        return f"CuPy cannot reach a GPU ({e}); check the NVIDIA driver and CUDA runtime"
    if count == 0:
        return "CuPy and a driver are installed but no CUDA device is visible"
    return None


def canonicalize(device: str | devices.device | int | None) -> str:
    """'cuda' -> the current GPU ('cuda:0' unless cuda.set_device), None -> the default
    device, device objects and GPU indices (as PyTorch: 0 is 'cuda:0') as their names;
    raises ValueError on unknown names."""
    if device is None:
        return default_device()
    if isinstance(device, (devices.device, int)) and not isinstance(device, bool):
        device = str(devices.device(device))
    if not isinstance(device, str):
        raise TypeError(f"device must be a string like 'cpu', 'cuda', 'cuda:1' or 'emu', a "
                        f"device or a GPU index, got {type(device).__name__}")
    name = device.strip().lower()
    if name in ("cpu", "emu", "cpu:0"):
        return name[:3]
    if name in ("cuda", "gpu"):
        return f"cuda:{current_cuda[0]}"
    if name.startswith("cuda:") and name[5:].isdigit():
        return f"cuda:{int(name[5:])}"
    if name.startswith("emu:") and name[4:].isdigit():  # emu pretending to be GPU N
        return f"emu:{int(name[4:])}" if int(name[4:]) else "emu"
    raise ValueError(f"unknown device {device!r}; valid devices: 'cpu', 'cuda', 'cuda:N', 'emu', "
                     "'emu:N'")


def default_device() -> str:
    """`TINYGRAD_NV_DEVICE` if set, else 'cuda:0' when CuPy sees a GPU, else 'cpu'."""
    global _default
    if _default is None:
        env = os.environ.get(ENV_VAR)
        if env:
            _default = canonicalize(env)
        else:
            _default = "cuda:0" if cuda_unavailable_reason() is None else "cpu"
    return _default


def set_default_device(device: str) -> None:
    global _default
    _default = canonicalize(device)


def get_backend(device: str | None) -> Backend:
    """The (cached) backend of a device name: created once, under a lock, even when threads
    ask for a new device at the same time (two backends of one device cannot be mixed)."""
    name = canonicalize(device)
    backend = _backends.get(name)
    if backend is None:
        with _lock:
            backend = _backends.get(name)
            if backend is None:
                backend = _backends[name] = _create(name)
    return backend


def _create(name: str) -> Backend:
    seed = fresh_seed() if _seed is None else _seed
    backend = _construct(name, seed)
    backend.initial_seed = seed
    return backend


def _construct(name: str, seed: int) -> Backend:
    if name == "cpu":
        return CPUBackend(seed)
    if name.startswith("emu"):
        from tinygrad_nv.backend.emu import EmuBackend
        return EmuBackend(seed, int(name[4:] or 0))
    reason = cuda_unavailable_reason()
    if reason is not None:
        raise RuntimeError(f"device {name!r} is not available: {reason}")
    index, count = int(name.split(":")[1]), cuda_device_count()
    if index >= count:
        raise ValueError(f"device {name!r} does not exist: this host has {count} CUDA "
                         f"device{'s' if count != 1 else ''} (cuda:0 to cuda:{count - 1})")
    from tinygrad_nv.backend.cuda import CudaBackend
    return CudaBackend(index, seed, count)


def cuda_device_count() -> int:
    """How many CUDA devices CuPy sees (call only where cuda_unavailable_reason() is None)."""
    import cupy
    return cupy.cuda.runtime.getDeviceCount()


def manual_seed(seed: int) -> None:
    """Reseed the random generators of every device, now and for devices created later."""
    global _seed
    _seed = check_seed(seed, "manual_seed")
    for backend in _backends.values():
        backend.seed(_seed)
        backend.initial_seed = _seed


def check_seed(seed: Any, op: str) -> int:
    """A seed as PyTorch takes it (an int from -2**63 to 2**64 - 1; negative ones wrap
    around) as the non-negative int the generators need."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"{op}: expected an int seed, got {type(seed).__name__}")
    if not -2**63 <= seed < 2**64:
        raise ValueError(f"{op}: seed {seed} is out of range (valid: -2**63 to 2**64 - 1)")
    return int(seed) % 2**64


def fresh_seed() -> int:
    """An unpredictable 64-bit seed from the operating system's entropy."""
    return int.from_bytes(os.urandom(8), "little")


class _DeviceMeta(type):
    @property
    def DEFAULT(cls) -> str:  # noqa: N802  (tinygrad's spelling)
        return default_device()

    @DEFAULT.setter
    def DEFAULT(cls, device: str) -> None:  # noqa: N802
        set_default_device(device)


class Device(metaclass=_DeviceMeta):
    """`Device.DEFAULT` reads or sets the default device; `Device.canonicalize(name)`."""

    canonicalize = staticmethod(canonicalize)
    get_backend = staticmethod(get_backend)
    cuda_unavailable_reason = staticmethod(cuda_unavailable_reason)
