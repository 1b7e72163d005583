"""PyTorch's thread settings: `set_num_threads` / `get_num_threads` set and read the threads of
the BLAS library NumPy calls (OpenBLAS, MKL, BLIS: through threadpoolctl, imported on first
use), the only threads the CPU backend's work runs on. The inter-op pair keeps a number as
PyTorch's does: nothing here runs ops in parallel."""

from __future__ import annotations

import operator
import os
from typing import Any

_interop = [os.cpu_count() or 1]


def _controller() -> Any:
    from threadpoolctl import ThreadpoolController
    return ThreadpoolController().select(user_api="blas")


def _positive(n: Any, op: str) -> int:
    """n as a positive int, or PyTorch's RuntimeError."""
    if isinstance(n, bool) or not hasattr(n, "__index__"):
        raise RuntimeError(f"{op} expects an int, but got {type(n).__name__}")
    if operator.index(n) <= 0:
        raise RuntimeError(f"{op} expects a positive integer, got {n}")
    return operator.index(n)


def set_num_threads(n: int) -> None:
    """Run the CPU's matrix products (BLAS) on `n` threads."""
    _controller().limit(limits=_positive(n, "set_num_threads"))


def get_num_threads() -> int:
    """The threads the CPU's matrix products (BLAS) run on (1 where NumPy has no BLAS pool)."""
    pools = _controller().info()
    return max((pool["num_threads"] for pool in pools), default=1)


def set_num_interop_threads(n: int) -> None:
    """PyTorch's inter-op pool size; kept for get_num_interop_threads (no such pool here)."""
    _interop[0] = _positive(n, "set_num_interop_threads")


def get_num_interop_threads() -> int:
    """The value last given to set_num_interop_threads (the CPU count by default)."""
    return _interop[0]
