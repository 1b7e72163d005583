"""What every backend provides: an array module, host transfers, random numbers, kernels."""

from __future__ import annotations

from typing import Any

import numpy as np


class Backend:
    """One device: `xp` (numpy or cupy), host transfers, a random generator and `kernels`."""

    name: str
    xp: Any
    kernels: Any

    def __init__(self, seed: int | None = None):
        self.seed(seed)

    def seed(self, seed: int | None) -> None:
        self.rng = self.xp.random.default_rng(seed)

    def to_host(self, array) -> np.ndarray:
        return np.asarray(array)

    def from_host(self, array: np.ndarray):
        return self.xp.asarray(array)

    def synchronize(self) -> None:
        """Wait for queued device work (a no-op on the CPU)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"
