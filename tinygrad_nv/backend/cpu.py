"""The CPU backend: NumPy arrays and NumPy implementations of the fused kernels; and the glibc
allocator settings that keep a training step's large temporaries in the process."""

from __future__ import annotations

import ctypes
import os
import sys

import numpy as np

from tinygrad_nv.backend.base import Backend
from tinygrad_nv.backend.numpy_kernels import NumpyKernels

# glibc's mallopt parameters (malloc.h) and the values set at import. By default glibc returns
# freed memory at the top of the heap to the OS once more than 128 KiB is free, and maps each
# allocation above its (adaptive) mmap threshold afresh: every step then faults its large
# temporaries in again, page by page (3.6k faults per CNN step, 12k per GPT step, 33k per CIFAR
# ResNet step; PyTorch's steps 0-2k). Kept in the process instead: arrays up to 32 MiB (glibc's
# maximum threshold) come from the heap, and up to 1 GiB of free heap stays mapped (a step's
# temporaries come back in the next step; PyTorch's GPU allocator keeps all of them).
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
MALLOPT = {M_TRIM_THRESHOLD: ("MALLOC_TRIM_THRESHOLD_", 1 << 30),
           M_MMAP_THRESHOLD: ("MALLOC_MMAP_THRESHOLD_", 32 << 20)}
SWITCH = "TINYGRAD_NV_MALLOPT"  # 0: leave the allocator as it is


def tune_allocator(environ: dict | None = None) -> dict[int, int]:
    """Set glibc's trim and mmap thresholds (MALLOPT) unless `SWITCH` is 0, or the user set
    the parameter through glibc's own variable; only on glibc Linux. Returns what was set."""
    environ = os.environ if environ is None else environ
    if environ.get(SWITCH, "1") == "0" or not sys.platform.startswith("linux"):
        return {}
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc"):
            return {}
        mallopt = ctypes.CDLL(None).mallopt
    except (AttributeError, OSError, ValueError):  # no confstr name or no mallopt: not glibc
        return {}
    done = {}
    for param, (variable, value) in MALLOPT.items():
        if variable not in environ and mallopt(param, value) == 1:
            done[param] = value
    return done


ALLOCATOR = tune_allocator()


class CPUBackend(Backend):
    name = "cpu"
    xp = np
    checks_values = True

    def __init__(self, seed: int | None = None):
        self.kernels = NumpyKernels(np)
        super().__init__(seed)
