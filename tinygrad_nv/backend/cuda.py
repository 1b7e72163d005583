"""The CUDA backend: CuPy arrays, cuBLAS through CuPy, and our kernels from `kernels/*.cu`
compiled with NVRTC and launched by the launch code it shares with `emu` (launch.py).
"""

from __future__ import annotations

import os

import numpy as np

from tinygrad_nv.backend.base import Backend, DevicePlacement, Placed
from tinygrad_nv.backend.launch import CudaKernels

NVRTC_OPTIONS = ("-std=c++11",)
SYNC_DEBUG_ENV = "TINYGRAD_NV_SYNC_DEBUG"


class CudaBackend(Backend):
    """`cuda:<index>`: CuPy arrays on that GPU and our kernels compiled with NVRTC.

    On a host with several GPUs every CuPy call runs with this device current: `xp`, `rng` and
    `kernels` are `Placed` proxies, and Function.apply / the backward engine enter `placement`
    around each op. With one GPU the device is always current: `placement` is None and nothing
    is wrapped.
    `TINYGRAD_NV_SYNC_DEBUG=1` synchronises after every kernel launch, so that a fault is
    reported at the launch that caused it, not at the next host synchronisation.
    """

    def __init__(self, index: int = 0, seed: int | None = None, device_count: int = 1):
        import cupy

        self.index = index
        self.name = f"cuda:{index}"
        self.device = cupy.cuda.Device(index)
        self._cupy = cupy
        runtime = cupy.cuda.runtime
        placed = device_count > 1
        self.placement = (DevicePlacement(index, runtime.getDevice, runtime.setDevice)
                          if placed else None)
        self.xp = Placed(cupy, self.placement) if placed else cupy
        debug = self._synchronize_launch if os.environ.get(SYNC_DEBUG_ENV) == "1" else None
        kernels = CudaKernels(cupy, self._load_module, debug)
        self.kernels = Placed(kernels, self.placement) if placed else kernels
        super().__init__(seed)

    def _load_module(self, source: str, name: str):
        with self.on_device():
            return self._cupy.RawModule(code=source, options=NVRTC_OPTIONS)

    def _synchronize_launch(self, kernel: str, grid, block) -> None:
        try:
            self.device.synchronize()
        except self._cupy.cuda.runtime.CUDARuntimeError as e:
            raise RuntimeError(f"{self.name}: kernel {kernel} (grid {grid}, block {block}) "
                               f"failed: {e}") from e

    def seed(self, seed: int | None) -> None:
        with self.on_device():
            rng = self._cupy.random.default_rng(seed)
        self.rng = rng if self.placement is None else Placed(rng, self.placement)

    def rng_state(self, rng) -> np.ndarray:
        """CuPy's generators keep one cuRAND state per GPU thread in a device array: its
        bytes."""
        return self.to_host(rng.bit_generator._state).view(np.uint8)

    def set_rng_state(self, rng, state: np.ndarray) -> None:
        target = rng.bit_generator._state
        if state.size != target.nbytes:
            raise RuntimeError(f"set_rng_state: expected a state of {target.nbytes} bytes for "
                               f"the {self.name} generator, got {state.size}")
        with self.on_device():
            target[...] = self._cupy.asarray(state.view(np.int8))

    def to_host(self, array) -> np.ndarray:
        with self.on_device():
            return self._cupy.asnumpy(array)

    def from_host(self, array: np.ndarray):
        with self.on_device():
            return self._cupy.asarray(array)

    def synchronize(self) -> None:
        self.device.synchronize()
