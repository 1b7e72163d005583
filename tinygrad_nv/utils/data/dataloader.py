"""`torch.utils.data.dataloader`: the loader of `tinygrad_nv.data` and what it uses."""

from tinygrad_nv.data.collate import default_collate, default_convert
from tinygrad_nv.data.loader import DataLoader
from tinygrad_nv.data.worker import get_worker_info

__all__ = ["DataLoader", "get_worker_info", "default_collate", "default_convert"]
