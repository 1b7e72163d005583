"""`torch.utils.data.dataloader`: the loader of `tinygrad_nv.data`."""

from tinygrad_nv.data.loader import *  # noqa: F403
from tinygrad_nv.data.loader import DataLoader, default_collate  # noqa: F401
