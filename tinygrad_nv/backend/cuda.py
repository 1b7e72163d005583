"""The CUDA backend: CuPy arrays, cuBLAS through CuPy, our kernels from `kernels/*.cu`
compiled with NVRTC and launched by the launch code it shares with `emu` (launch.py), and a
Philox random stream drawn by kernels/random.cu (base.PhiloxRng; not cuRAND).
"""

from __future__ import annotations

import os

import numpy as np

from tinygrad_nv.backend.base import Backend, DevicePlacement, PhiloxRng, Placed
from tinygrad_nv.backend.launch import CudaKernels

NVRTC_OPTIONS = ("-std=c++11",)
SYNC_DEBUG_ENV = "TINYGRAD_NV_SYNC_DEBUG"


class CudaBackend(PhiloxRng, Backend):
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

    def to_host(self, array) -> np.ndarray:
        with self.on_device():
            return self._cupy.asnumpy(array)

    def from_host(self, array: np.ndarray):
        with self.on_device():
            return self._cupy.asarray(array)

    def synchronize(self) -> None:
        self.device.synchronize()
