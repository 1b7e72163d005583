"""The process group: MPI's COMM_WORLD (mpi4py), set up by `init()` from the MPI launcher's
environment; a single process started without a launcher is a world of size 1.

mpi4py is imported only by `init()`, so single-process users never need it.
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

from tinygrad_nv.backend import ENV_VAR, cuda_unavailable_reason, set_default_device

INSTALL_HINT = "install the distributed extra: pip install 'tinygrad_nv[distributed]'"
# Set by mpiexec (MPICH/Intel MPI hydra, Open MPI, PMIx launchers, MVAPICH, Slurm's srun)
LAUNCHER_VARIABLES = ("PMI_RANK", "PMI_SIZE", "PMIX_RANK", "OMPI_COMM_WORLD_SIZE",
                      "MV2_COMM_WORLD_SIZE", "MPI_LOCALNRANKS")


@dataclass
class World:
    """This process's view of the job: its MPI communicator (None in the world of one process
    that runs without mpi4py), rank, size, rank on its machine, GPU index (or None) and whether
    some machine runs more processes than it has GPUs (then NCCL cannot be used)."""

    comm: Any
    rank: int
    size: int
    local_rank: int
    gpu: int | None = None
    gpus_shared: bool = False
    engines: dict = field(default_factory=dict)  # the collective engines, made on first use


_world: World | None = None


def init() -> None:
    """Join the job started by the MPI launcher (`mpiexec -n N python train.py`); a process
    started without one is rank 0 of a world of size 1. Where GPUs are present each process
    uses GPU `local_rank() % count` (and makes it the default device unless
    TINYGRAD_NV_DEVICE says otherwise); with more processes than GPUs on a machine, collectives
    on GPU tensors go through MPI instead of NCCL. An uncaught exception in any rank then prints its
    traceback once and aborts the whole job instead of leaving the other ranks waiting.
    Calling init() again does nothing."""
    global _world
    if _world is not None:
        return
    try:
        from mpi4py import MPI
    except ImportError as e:
        found = [name for name in LAUNCHER_VARIABLES if name in os.environ]
        if found:
            raise ImportError(f"distributed.init: this process was started by an MPI launcher "
                              f"({found[0]} is set) but mpi4py cannot be imported ({e}); "
                              f"{INSTALL_HINT}") from None
        _world = World(None, 0, 1, 0)
        return
    comm = MPI.COMM_WORLD
    machine = comm.Split_type(MPI.COMM_TYPE_SHARED)
    local_rank, local_size = machine.Get_rank(), machine.Get_size()
    machine.Free()
    gpu, gpu_count = _use_local_gpu(local_rank)
    shared = comm.allreduce(gpu is not None and local_size > gpu_count, op=MPI.LOR)
    _world = World(comm, comm.Get_rank(), comm.Get_size(), local_rank, gpu, shared)
    if _world.size > 1:
        _abort_on_uncaught_exception(_world)


def _use_local_gpu(local_rank: int) -> tuple[int | None, int]:
    """(index of the GPU this process uses or None, number of GPUs on this machine)."""
    if cuda_unavailable_reason() is not None:
        return None, 0
    import cupy

    count = cupy.cuda.runtime.getDeviceCount()
    index = local_rank % count
    cupy.cuda.Device(index).use()
    if not os.environ.get(ENV_VAR):
        set_default_device(f"cuda:{index}")
    return index, count


def _abort_on_uncaught_exception(world: World) -> None:
    """Print an uncaught exception's traceback, then MPI_Abort: every rank stops (a rank that
    raised would otherwise leave the others blocked in their next collective)."""

    def excepthook(kind, value, tb) -> None:
        report = "".join(traceback.format_exception(kind, value, tb))
        report += (f"tinygrad_nv.distributed: rank {world.rank} of {world.size} raised "
                   f"{kind.__name__}; aborting the job\n")
        sys.stdout.flush()
        sys.stderr.write(report)  # one write: the launcher forwards it whole
        sys.stderr.flush()
        time.sleep(0.5)  # the launcher stops forwarding output once the abort reaches it
        world.comm.Abort(1)

    sys.excepthook = excepthook


def world(op: str) -> World:
    """The initialised world, or a RuntimeError naming `op`."""
    if _world is None:
        raise RuntimeError(f"{op}: the distributed world is not initialised; call "
                           "tinygrad_nv.distributed.init() first (and start the script with "
                           "mpiexec -n N python ... for more than one process)")
    return _world


def is_initialized() -> bool:
    """Whether init() has run."""
    return _world is not None


def rank() -> int:
    """This process's rank, 0 .. world_size() - 1."""
    return world("rank").rank


def world_size() -> int:
    """The number of processes in the job."""
    return world("world_size").size


def local_rank() -> int:
    """This process's rank among the processes on its machine (MPI's shared-memory split)."""
    return world("local_rank").local_rank


def barrier() -> None:
    """Wait until every process has reached this call."""
    comm = world("barrier").comm
    if comm is not None:
        comm.Barrier()
