"""The collective engines, on flat contiguous arrays: MPI (mpi4py) on host arrays, NCCL
(cupy.cuda.nccl) on GPU arrays, and MPI through host copies for GPU arrays where NCCL is
missing, lacks the dtype or cannot run (processes sharing a GPU). They only call those
libraries: no transport of our own.

Reductions are "sum", "max" or "min" (the caller divides for a mean and maps bool to uint8).
`start_all_reduce` is the non-blocking sum DDP overlaps with backward; it returns a handle
whose `wait()` makes the result visible to later work (and `poke()` lets MPI progress).
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np

from tinygrad_nv.distributed.comm import World


class MPIEngine:
    """MPI collectives on NumPy arrays, in place, through buffer specs (no pickling)."""

    def __init__(self, comm: Any):
        from mpi4py import MPI

        self.comm, self.in_place = comm, MPI.IN_PLACE
        self.ops = {"sum": MPI.SUM, "max": MPI.MAX, "min": MPI.MIN}

    def all_reduce(self, array: np.ndarray, op: str) -> None:
        self.comm.Allreduce(self.in_place, array, op=self.ops[op])

    def start_all_reduce(self, array: np.ndarray) -> _MPIHandle:
        return _MPIHandle(self.comm.Iallreduce(self.in_place, array, op=self.ops["sum"]))

    def broadcast(self, array: np.ndarray, root: int) -> None:
        self.comm.Bcast(array, root=root)

    def all_gather(self, array: np.ndarray, out: np.ndarray) -> None:
        self.comm.Allgather(array, out)


class _MPIHandle:
    def __init__(self, request: Any, done: Any = None):
        self.request, self.done = request, done

    def poke(self) -> None:
        self.request.Test()  # MPICH progresses non-blocking collectives inside MPI calls

    def wait(self) -> None:
        self.request.Wait()
        if self.done is not None:
            self.done()


class StagedEngine:
    """GPU arrays through MPI by way of host copies (no NCCL, or a dtype NCCL lacks)."""

    def __init__(self, mpi: MPIEngine):
        self.mpi = mpi

    def all_reduce(self, array: Any, op: str) -> None:
        host = array.get()
        self.mpi.all_reduce(host, op)
        array.set(host)

    def start_all_reduce(self, array: Any) -> _MPIHandle:
        host = array.get()
        return _MPIHandle(self.mpi.start_all_reduce(host).request, lambda: array.set(host))

    def broadcast(self, array: Any, root: int) -> None:
        host = array.get()
        self.mpi.broadcast(host, root)
        array.set(host)

    def all_gather(self, array: Any, out: Any) -> None:
        host = np.empty(out.shape, out.dtype)
        self.mpi.all_gather(array.get(), host)
        out.set(host)


class NCCLEngine:
    """NCCL collectives on CuPy arrays of one GPU, on its current stream; `start_all_reduce`
    runs on a side stream that first waits for the work queued so far."""

    def __init__(self, world: World, gpu: int):
        import cupy
        from cupy.cuda import nccl

        self.cupy, self.nccl = cupy, nccl
        self.types = {np.dtype(name): getattr(nccl, f"NCCL_{name.upper()}") for name in
                      ("float16", "float32", "float64", "int8", "uint8", "int32", "int64")}
        self.ops = {"sum": nccl.NCCL_SUM, "max": nccl.NCCL_MAX, "min": nccl.NCCL_MIN}
        unique_id = world.comm.bcast(nccl.get_unique_id() if world.rank == 0 else None, root=0)
        with cupy.cuda.Device(gpu):
            try:
                self.comm = nccl.NcclCommunicator(world.size, unique_id, world.rank)
            except nccl.NcclError as e:
                raise RuntimeError(f"NCCL could not set up rank {world.rank} of {world.size} on "
                                   f"cuda:{gpu} ({e}); every rank needs a GPU of its own: start "
                                   "at most as many processes per machine as it has GPUs") from e
            self.side_stream = cupy.cuda.Stream(non_blocking=True)

    @staticmethod
    def available() -> bool:
        try:
            from cupy.cuda import nccl
        except ImportError:
            return False
        return bool(getattr(nccl, "available", False))

    def supports(self, dtype: np.dtype) -> bool:
        return dtype in self.types

    def _stream(self) -> int:
        return self.cupy.cuda.get_current_stream().ptr

    def all_reduce(self, array: Any, op: str) -> None:
        ptr = array.data.ptr
        self.comm.allReduce(ptr, ptr, array.size, self.types[array.dtype], self.ops[op],
                            self._stream())

    def start_all_reduce(self, array: Any) -> _StreamHandle:
        self.side_stream.wait_event(self.cupy.cuda.get_current_stream().record())
        ptr = array.data.ptr
        self.comm.allReduce(ptr, ptr, array.size, self.types[array.dtype], self.ops["sum"],
                            self.side_stream.ptr)
        return _StreamHandle(self.cupy, self.side_stream.record())

    def broadcast(self, array: Any, root: int) -> None:
        ptr = array.data.ptr
        self.comm.broadcast(ptr, ptr, array.size, self.types[array.dtype], root, self._stream())

    def all_gather(self, array: Any, out: Any) -> None:
        self.comm.allGather(array.data.ptr, out.data.ptr, array.size, self.types[array.dtype],
                            self._stream())


class _StreamHandle:
    def __init__(self, cupy: Any, event: Any):
        self.cupy, self.event = cupy, event

    def poke(self) -> None:
        """NCCL progresses on its own."""

    def wait(self) -> None:
        # the compute stream waits for the side stream; the host does not wait
        self.cupy.cuda.get_current_stream().wait_event(self.event)


def on_device(array: Any) -> Any:
    """A context with a CuPy array's GPU current (nothing for a host array)."""
    return contextlib.nullcontext() if isinstance(array, np.ndarray) else array.device


def engine_for(world: World, array: Any) -> Any:
    """The engine for `array`: MPI for host arrays, NCCL (or staged MPI) for GPU arrays."""
    engines = world.engines
    if "mpi" not in engines:
        engines["mpi"] = MPIEngine(world.comm)
    if isinstance(array, np.ndarray):
        return engines["mpi"]
    gpu = array.device.id
    if NCCLEngine.available() and not world.gpus_shared:  # NCCL wants a GPU per process
        key = ("nccl", gpu)
        if key not in engines:
            engines[key] = NCCLEngine(world, gpu)
        if engines[key].supports(array.dtype):
            return engines[key]
    if "staged" not in engines:
        engines["staged"] = StagedEngine(engines["mpi"])
    return engines["staged"]
