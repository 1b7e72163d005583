"""`tinygrad_nv.cuda.amp`: PyTorch's older spellings `torch.cuda.amp.autocast(enabled, dtype,
cache_enabled)` and `torch.cuda.amp.GradScaler(init_scale, ...)`, which name no device: cuda
(PyTorch deprecates them for torch.amp's; they stay for programs that use them)."""

from __future__ import annotations

from typing import Any

from tinygrad_nv.amp.autocast_mode import autocast as _autocast
from tinygrad_nv.amp.grad_scaler import GradScaler as _GradScaler
from tinygrad_nv.dtype import dtypes


class autocast(_autocast):  # noqa: N801  (PyTorch's spelling)
    """torch.cuda.amp.autocast: tinygrad_nv.autocast("cuda", ...)."""

    def __init__(self, enabled: bool = True, dtype: Any = dtypes.float16,
                 cache_enabled: bool = True) -> None:
        super().__init__("cuda", dtype=dtype, enabled=enabled, cache_enabled=cache_enabled)


class GradScaler(_GradScaler):
    """torch.cuda.amp.GradScaler: tinygrad_nv.amp.GradScaler("cuda", ...)."""

    def __init__(self, init_scale: float = 2.0**16, growth_factor: float = 2.0,
                 backoff_factor: float = 0.5, growth_interval: int = 2000,
                 enabled: bool = True) -> None:
        super().__init__("cuda", init_scale, growth_factor, backoff_factor, growth_interval,
                         enabled)
