"""The CPU backend: NumPy arrays and NumPy implementations of the fused kernels."""

from __future__ import annotations

import numpy as np

from tinygrad_nv.backend.base import Backend
from tinygrad_nv.backend.numpy_kernels import NumpyKernels


class CPUBackend(Backend):
    name = "cpu"
    xp = np

    def __init__(self, seed: int | None = None):
        self.kernels = NumpyKernels(np)
        super().__init__(seed)
