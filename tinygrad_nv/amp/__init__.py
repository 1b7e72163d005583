"""Mixed precision, as `torch.amp`: `autocast` (ops in the dtype PyTorch's autocast gives
them) and `GradScaler` (loss scaling for float16 gradients)."""

from tinygrad_nv.amp.autocast_mode import autocast, get_autocast_dtype, is_autocast_enabled
from tinygrad_nv.amp.grad_scaler import GradScaler

__all__ = ["GradScaler", "autocast", "get_autocast_dtype", "is_autocast_enabled"]
