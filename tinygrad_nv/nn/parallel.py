"""`torch.nn.parallel`: `DataParallel`, here the identity wrapper that runs its module on the
one device the module lives on (training across processes and GPUs is
`tinygrad_nv.distributed.DistributedDataParallel`)."""

from __future__ import annotations

import warnings
from typing import Any

from tinygrad_nv.nn.module import Module


class DataParallel(Module):
    """PyTorch's DataParallel as an identity wrapper: `forward` calls the wrapped module on
    the device it lives on, with no split across GPUs (several device_ids give a warning; use
    DistributedDataParallel, one process per GPU, to train on several). `model.module` is the
    wrapped module and state_dict keys start with 'module.', as PyTorch's.

    >>> model = nn.DataParallel(net)
    >>> model(x)             # net(x)
    """

    def __init__(self, module: Module, device_ids: Any = None, output_device: Any = None,
                 dim: int = 0):
        super().__init__()
        if device_ids is not None and len(device_ids) > 1:
            warnings.warn("DataParallel runs the module on one device only (tinygrad_nv's "
                          f"identity wrapper), not on {list(device_ids)}; use "
                          "DistributedDataParallel to train on several GPUs", stacklevel=2)
        self.module = module
        self.device_ids, self.output_device, self.dim = device_ids, output_device, dim

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        return self.module(*inputs, **kwargs)

