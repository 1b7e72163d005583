"""The worker side of multi-process loading (PyTorch's `torch.utils.data._utils.worker`):
`get_worker_info()`, the per-worker seeds, and the loop each worker process runs: read a task
(batch number, indices) from its index queue, fetch and collate the batch, send it back
through its result pipe. Tensors cross as NumPy arrays (pickled) and become Tensors again in
the main process; an exception crosses as an `ExceptionWrapper` holding its traceback.
"""

from __future__ import annotations

import os
import queue
import random
import sys
import traceback
from dataclasses import dataclass
from multiprocessing.reduction import ForkingPickler
from typing import Any

import numpy as np

from tinygrad_nv import backend
from tinygrad_nv._tensor import Tensor
from tinygrad_nv.backend import get_backend, manual_seed, set_default_device
from tinygrad_nv.data.collate import map_structure
from tinygrad_nv.data.dataset import Subset, TensorDataset
from tinygrad_nv.data.fetch import create_fetcher

MP_STATUS_CHECK_INTERVAL = 5.0  # seconds a worker waits for a task before checking its parent


@dataclass(frozen=True)
class WorkerInfo:
    """Who this worker is: `id` (0 to num_workers - 1), `num_workers`, `seed` (the base seed
    of the iterator + id) and `dataset` (this process's copy)."""

    id: int
    num_workers: int
    seed: int
    dataset: Any


_worker_info: WorkerInfo | None = None


def get_worker_info() -> WorkerInfo | None:
    """Inside a DataLoader worker process its WorkerInfo (id, num_workers, seed, dataset);
    None in the main process. Use it to split an IterableDataset between workers.

    >>> info = get_worker_info()
    >>> mine = range(n) if info is None else range(info.id, n, info.num_workers)
    """
    return _worker_info


class ExceptionWrapper:
    """An exception and its formatted traceback, to raise again in another process."""

    def __init__(self, exc_info: Any = None, where: str = "in background"):
        exc_type, value, tb = sys.exc_info() if exc_info is None else exc_info
        self.exc_type = exc_type
        self.exc_msg = "".join(traceback.format_exception(exc_type, value, tb))
        self.where = where

    def reraise(self) -> None:
        """Raise the exception's type with the original traceback in its message (a
        RuntimeError where that type cannot be built from a message)."""
        msg = f"Caught {self.exc_type.__name__} {self.where}.\nOriginal {self.exc_msg}"
        if self.exc_type is KeyError:  # KeyError quotes its message: keep the newlines
            raise _KeyErrorMessage(msg)
        try:
            exception = self.exc_type(msg)
        except Exception:
            raise RuntimeError(msg) from None
        raise exception


class _KeyErrorMessage(KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class _IterableDatasetStopIteration:
    """A worker's copy of an IterableDataset is exhausted for this epoch."""

    worker_id: int


@dataclass(frozen=True)
class _ResumeIteration:
    """Persistent workers: start a new epoch (acknowledged by sending it back)."""


@dataclass(frozen=True)
class _TensorPayload:
    """A Tensor on its way to the main process; device None: the worker's default device."""

    array: np.ndarray
    device: str | None


def encode(data: Any, default_device: str) -> Any:
    """A batch with its Tensors as _TensorPayloads (NumPy arrays pickle, Tensors need not)."""
    def payload(t: Tensor) -> _TensorPayload:
        name = t._backend.name
        return _TensorPayload(t.numpy(), None if name == default_device else name)
    return map_structure(data, Tensor, payload)


def decode(data: Any, device: str | None) -> Any:
    """The Tensors of an encoded batch, on `device`, else where they were made (the default
    device for those made on the worker's default)."""
    def tensor(p: _TensorPayload) -> Tensor:
        backend = get_backend(device or p.device)
        return Tensor._from_op(backend.from_host(p.array), backend, None)
    return map_structure(data, _TensorPayload, tensor)


def _generate_state(base_seed: int, worker_id: int) -> list[int]:
    """The NumPy seed of a worker: PyTorch's hash of (worker_id, base_seed), after NumPy's
    SeedSequence, so that workers never share a global NumPy stream."""
    mask, shift = 0xFFFFFFFF, 16
    mult_a, mult_b = 0x931E8875, 0x58F38DED
    hash_a = 0x43B0D7E5

    def hash32(value: int) -> int:
        nonlocal hash_a
        value = (value ^ hash_a) & mask
        hash_a = (hash_a * mult_a) & mask
        value = (value * hash_a) & mask
        return (value ^ (value >> shift)) & mask

    def mix(x: int, y: int) -> int:
        result = (((0xCA01F9DD * x) & mask) - ((0x4973F715 * y) & mask)) & mask
        return (result ^ (result >> shift)) & mask

    pool = [hash32(v) for v in (worker_id, base_seed & mask, base_seed >> 32, 0)]
    for src in range(4):
        for dst in range(4):
            if src != dst:
                pool[dst] = mix(pool[dst], hash32(pool[src]))
    hash_b, state = 0x8B51F9DD, []
    for value in pool:
        value = (value ^ hash_b) & mask
        hash_b = (hash_b * mult_b) & mask
        value = (value * hash_b) & mask
        state.append((value ^ (value >> shift)) & mask)
    return state


def _forget_gpus(dataset: Any) -> None:
    """Drop the GPU backends a forked worker inherited: a CUDA context does not survive a fork
    (so manual_seed must not reseed them). A TensorDataset on a GPU cannot be read there."""
    inherited = [name for name in backend._backends if name.startswith("cuda")]
    for name in inherited:
        del backend._backends[name]
    while isinstance(dataset, Subset):
        dataset = dataset.dataset
    if inherited and isinstance(dataset, TensorDataset) and any(
            t._backend.name.startswith("cuda") for t in dataset.tensors):
        raise RuntimeError("a forked worker cannot use the GPU its parent set up, and the "
                           "TensorDataset's tensors are on it: keep the dataset on the CPU "
                           "(DataLoader(device=...) moves the batches), use num_workers=0, or "
                           "multiprocessing_context='spawn'")


def _seed(base_seed: int, worker_id: int) -> int:
    """Seed Python's, NumPy's and our generators as PyTorch seeds a worker's."""
    seed = base_seed + worker_id
    random.seed(seed)
    manual_seed(seed)
    np.random.seed(_generate_state(base_seed, worker_id))
    return seed


def _worker_loop(dataset: Any, auto_collation: bool, collate_fn: Any, drop_last: bool,
                 base_seed: int, init_fn: Any, num_workers: int, device: str, done_event: Any,
                 index_queue: Any, result: Any, worker_id: int) -> None:
    """One worker process: seed, call init_fn(worker_id), then answer tasks until None."""
    global _worker_info
    where = f"in DataLoader worker process {worker_id}"
    try:
        set_default_device(device)
        init_error, fetcher = None, None
        try:
            _forget_gpus(dataset)
            seed = _seed(base_seed, worker_id)
            _worker_info = WorkerInfo(worker_id, num_workers, seed, dataset)
            if init_fn is not None:
                init_fn(worker_id)
            fetcher = create_fetcher(dataset, auto_collation, collate_fn, drop_last, None)
        except Exception:
            init_error = ExceptionWrapper(where=where)
        iteration_end, parent = False, os.getppid()
        while os.getppid() == parent:
            try:
                task = index_queue.get(timeout=MP_STATUS_CHECK_INTERVAL)
            except queue.Empty:
                continue
            if task is None:
                break
            if isinstance(task, _ResumeIteration):
                iteration_end = False
                if init_error is None:
                    fetcher = create_fetcher(dataset, auto_collation, collate_fn, drop_last,
                                             None)
                message = (task, None)
            elif done_event.is_set() or iteration_end:
                continue
            else:
                idx, index = task
                data: Any = init_error
                if init_error is None:
                    try:
                        data = encode(fetcher.fetch(index), device)
                    except StopIteration:
                        data, iteration_end = _IterableDatasetStopIteration(worker_id), True
                    except Exception:
                        data = ExceptionWrapper(where=where)
                message = (idx, data)
            if not _send(result, message, where):
                break
    except KeyboardInterrupt:  # the main process handles Ctrl-C
        pass


def _send(result: Any, message: tuple, where: str) -> bool:
    """Send (idx, data); data that cannot be pickled is sent as that error. False when the
    main process no longer listens."""
    try:
        payload = ForkingPickler.dumps(message)
    except Exception:
        error = ExceptionWrapper(where=f"{where} (sending the batch to the main process)")
        try:
            payload = ForkingPickler.dumps((message[0], error))
        except Exception:  # an exception type that does not pickle
            error.exc_type = RuntimeError
            payload = ForkingPickler.dumps((message[0], error))
    try:
        result.send_bytes(payload)
    except OSError:
        return False
    return True
