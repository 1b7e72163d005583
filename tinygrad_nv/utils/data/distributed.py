"""`torch.utils.data.distributed`: the distributed sampler of `tinygrad_nv.data`."""

from tinygrad_nv.data.distributed import DistributedSampler  # noqa: F401
