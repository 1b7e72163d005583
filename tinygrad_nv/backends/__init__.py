"""`torch.backends` stand-ins, so that programs which set its flags run: `cudnn` and
`cuda.matmul` hold plain attributes (tinygrad_nv uses neither cuDNN nor TF32, so setting them
changes nothing), `mps.is_available()` is False (there is no Apple GPU backend).

>>> tinygrad_nv.backends.cudnn.benchmark = True    # accepted, no effect
"""

from tinygrad_nv.backends import cuda, cudnn, mps

__all__ = ["cuda", "cudnn", "mps"]
