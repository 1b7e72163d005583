"""Data-parallel training across processes and machines: MPI (mpi4py) between processes, NCCL
(cupy.cuda.nccl) between GPUs. Start the script with the MPI launcher:

    mpiexec -n 2 python train.py

>>> import tinygrad_nv.distributed as dist
>>> dist.init()                      # a world of size 1 without a launcher
>>> model = dist.DistributedDataParallel(model)
>>> sampler = data.DistributedSampler(dataset)   # each rank gets its own part of the data
"""

from tinygrad_nv.distributed.collectives import all_gather, all_reduce, broadcast
from tinygrad_nv.distributed.comm import (
    barrier,
    init,
    is_initialized,
    local_rank,
    rank,
    world_size,
)
from tinygrad_nv.distributed.ddp import DistributedDataParallel, save_checkpoint

__all__ = ["init", "is_initialized", "rank", "world_size", "local_rank", "barrier",
           "all_reduce", "broadcast", "all_gather", "DistributedDataParallel",
           "save_checkpoint"]
