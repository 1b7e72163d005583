"""`torch.utils.data`: the names of `tinygrad_nv.data`."""

from tinygrad_nv.data import *  # noqa: F403
from tinygrad_nv.data import __all__  # noqa: F401
