"""PyTorch's `torch.utils`: `utils.data` is `tinygrad_nv.data`."""

from tinygrad_nv.utils import data

__all__ = ["data"]
