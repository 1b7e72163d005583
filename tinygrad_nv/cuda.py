"""`torch.cuda`'s common names: whether CUDA GPUs are usable, how many, the current one,
synchronisation, and each GPU's default random generator (seeding, saving and restoring its
state). Asking nothing of CUDA imports nothing heavy: CuPy loads on the first question.

>>> device = "cuda" if tinygrad_nv.cuda.is_available() else "cpu"
"""

from __future__ import annotations

from typing import Any

from tinygrad_nv import backend as backends
from tinygrad_nv._tensor import Tensor
from tinygrad_nv.legacy_types import CUDA_TYPES
from tinygrad_nv.random import Generator

globals().update(CUDA_TYPES)  # torch.cuda.FloatTensor, ...: PyTorch's legacy tensor types


def is_available() -> bool:
    """Whether a CUDA GPU can be used (CuPy installed, a driver, at least one device)."""
    return backends.cuda_unavailable_reason() is None


def device_count() -> int:
    """How many CUDA GPUs are visible (0 without CuPy or a driver)."""
    return backends.cuda_device_count() if is_available() else 0


def current_device() -> int:
    """The index of the GPU that 'cuda' without an index names."""
    return backends.current_cuda[0]


def set_device(device: Any) -> None:
    """Make GPU `device` (an index, 'cuda:N' or a device) the one that 'cuda' without an
    index names."""
    index = _index(device)
    if not 0 <= index < device_count():
        raise ValueError(f"cuda.set_device: device {index} does not exist (this host has "
                         f"{device_count()} CUDA devices)")
    backends.current_cuda[0] = index


def get_device_name(device: Any = None) -> str:
    """The GPU's name, e.g. 'NVIDIA H100 80GB HBM3'."""
    index = _index(device)
    backends.get_backend(f"cuda:{index}")  # a clear error where there is no such GPU
    import cupy

    return cupy.cuda.runtime.getDeviceProperties(index)["name"].decode()


def synchronize(device: Any = None) -> None:
    """Wait until the GPU has finished the work queued so far."""
    backends.get_backend(_name(device)).synchronize()


def empty_cache() -> None:
    """Give the cached, unused GPU memory of CuPy's pools back to the driver."""
    if is_available():
        import cupy

        cupy.get_default_memory_pool().free_all_blocks()
        cupy.get_default_pinned_memory_pool().free_all_blocks()


def manual_seed(seed: int) -> None:
    """Seed the current GPU's default generator (ignored without CUDA, as PyTorch)."""
    if is_available():
        Generator.default(_name(None)).manual_seed(seed)


def manual_seed_all(seed: int) -> None:
    """Seed every GPU's default generator (ignored without CUDA, as PyTorch)."""
    for index in range(device_count()):
        Generator.default(f"cuda:{index}").manual_seed(seed)


def seed() -> None:
    """Seed the current GPU's default generator from the operating system."""
    if is_available():
        Generator.default(_name(None)).seed()


def seed_all() -> None:
    """Seed every GPU's default generator from the operating system."""
    manual_seed_all(backends.fresh_seed())


def initial_seed() -> int:
    """The seed of the current GPU's default generator."""
    return Generator.default(_name(None)).initial_seed()


def get_rng_state(device: Any = "cuda") -> Tensor:
    """The state of a GPU's default generator as a uint8 CPU tensor (for `set_rng_state`).
    `device` may also name an emu device."""
    return Generator.default(_name(device)).get_state()


def set_rng_state(new_state: Tensor, device: Any = "cuda") -> None:
    """Resume a GPU's default generator from a state that `get_rng_state` returned."""
    Generator.default(_name(device)).set_state(new_state)


def get_rng_state_all() -> list[Tensor]:
    """The states of every GPU's default generator."""
    return [get_rng_state(i) for i in range(device_count())]


def set_rng_state_all(new_states: list[Tensor]) -> None:
    """Resume every GPU's default generator from `get_rng_state_all`'s states."""
    for index, state in enumerate(new_states):
        set_rng_state(state, index)


def __getattr__(name: str) -> Any:
    if name == "amp":  # torch.cuda.amp: autocast and GradScaler that name no device
        import importlib
        return importlib.import_module("tinygrad_nv.amp.cuda_amp")
    raise AttributeError(f"module 'tinygrad_nv.cuda' has no attribute {name!r}")


def _name(device: Any) -> str:
    """The device a call names: None (or 'cuda') is the current GPU."""
    return backends.canonicalize("cuda" if device is None else device)


def _index(device: Any) -> int:
    name = _name(device)
    if not name.startswith("cuda:"):
        raise ValueError(f"cuda: expected a CUDA device, got {device!r}")
    return int(name[5:])
