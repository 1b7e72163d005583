"""`DataLoader`: batches of a dataset as Tensors on a chosen device, in the calling process or
in worker processes (PyTorch's `torch.utils.data.DataLoader`: its arguments, defaults, checks
and semantics).

>>> loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True, seed=0)
>>> for epoch in range(10):
...     for xb, yb in loader:
...         train_step(xb, yb)
"""

from __future__ import annotations

import math
import multiprocessing
import multiprocessing.context
import os
import warnings
from collections.abc import Callable, Iterable
from typing import Any

from tinygrad_nv.data.collate import default_collate, default_convert
from tinygrad_nv.data.dataset import IterableDataset
from tinygrad_nv.data.iterator import _BaseDataLoaderIter, _SingleProcessDataLoaderIter
from tinygrad_nv.data.multiprocess import _MultiProcessingDataLoaderIter
from tinygrad_nv.data.sampler import (
    BatchSampler,
    RandomSampler,
    SequentialSampler,
    _fixed,
    _InfiniteConstantSampler,
)

_SET_ONCE = ("batch_size", "batch_sampler", "sampler", "drop_last", "dataset",
             "persistent_workers")


class DataLoader:
    """Iterates over `dataset` in batches of `batch_size` samples (shuffled each epoch with
    shuffle=True; reproducibly with seed= or generator=, a numpy.random.Generator), collated
    by `collate_fn` (default_collate) into Tensors on `device` (the default device when None).
    For a TensorDataset (or a Subset of one) with the default collation a batch is one gather
    per tensor. batch_size=None yields single samples, converted (default_convert) but not
    stacked. An IterableDataset is read as a stream (no sampler, no shuffle).

    num_workers > 0 loads in that many worker processes (`multiprocessing_context`: a start
    method name or context, the platform's default when None): batch i is fetched and collated
    by worker i % num_workers, prefetch_factor batches per worker ahead, and yielded in order;
    the batches are the same as with num_workers=0 and the same seed. Each worker is seeded
    from the iterator's base seed + its id (Python's `random`, NumPy's global generator and
    ours) before `worker_init_fn(worker_id)` runs; `get_worker_info()` tells a worker who it
    is. An error in a worker is raised again in the main process, naming the worker and with
    the original traceback; a worker that dies raises RuntimeError; `timeout` > 0 bounds every
    wait for a batch. Workers stop when a pass ends or the iterator is dropped; with
    persistent_workers=True they serve every epoch. Workers make their Tensors on the CPU
    (never on a GPU): they reach `device` in the main process.

    pin_memory=True copies each batch's CPU Tensors into page-locked host memory (through
    CuPy) on a host with a CUDA device, which makes later copies to the GPU faster; without
    one it does nothing (and warns, as PyTorch does). pin_memory_device is deprecated and
    ignored (as in PyTorch).

    >>> loader = DataLoader(TensorDataset(x, y), batch_size=64, shuffle=True, seed=0,
    ...                     num_workers=2)
    >>> len(loader), next(iter(loader))[0].shape        # (ceil(n / 64), (64, ...))
    """

    def __init__(self, dataset: Any, batch_size: int | None = 1, shuffle: bool | None = None,
                 sampler: Iterable | None = None, batch_sampler: Iterable[list] | None = None,
                 num_workers: int = 0, collate_fn: Callable[[list[Any]], Any] | None = None,
                 pin_memory: bool = False, drop_last: bool = False, timeout: float = 0,
                 worker_init_fn: Callable[[int], None] | None = None,
                 multiprocessing_context: Any = None, generator: Any = None, *,
                 prefetch_factor: int | None = None, persistent_workers: bool = False,
                 pin_memory_device: str = "", seed: int | None = None,
                 device: str | None = None):
        _check_workers(num_workers, timeout, prefetch_factor, persistent_workers)
        if num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        self.num_workers, self.prefetch_factor = num_workers, prefetch_factor
        self.pin_memory, self.pin_memory_device = pin_memory, pin_memory_device
        self.timeout, self.worker_init_fn = timeout, worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        if isinstance(dataset, IterableDataset):
            _check_iterable(shuffle, sampler, batch_sampler)
        else:
            _check_map_style(dataset, sampler, batch_sampler)
            shuffle = bool(shuffle)
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("DataLoader: batch_sampler option is mutually exclusive with "
                                 "batch_size, shuffle, sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("DataLoader: batch_size=None option disables auto-batching and is "
                             "mutually exclusive with drop_last")
        self.generator = _fixed(generator, seed, "DataLoader")
        if sampler is None:
            if isinstance(dataset, IterableDataset):
                sampler = _InfiniteConstantSampler()
            elif shuffle:
                sampler = RandomSampler(dataset, generator=self.generator)
            else:
                sampler = SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.dataset, self.sampler, self.batch_sampler = dataset, sampler, batch_sampler
        self.batch_size, self.drop_last, self.device = batch_size, drop_last, device
        if collate_fn is None:
            collate_fn = default_collate if batch_sampler is not None else default_convert
        self.collate_fn, self.persistent_workers = collate_fn, persistent_workers
        self._IterableDataset_len_called: int | None = None
        self._iterator: _BaseDataLoaderIter | None = None
        self._initialized = True
        self.check_worker_number_rationality()

    @property
    def multiprocessing_context(self) -> multiprocessing.context.BaseContext | None:
        return self._multiprocessing_context

    @multiprocessing_context.setter
    def multiprocessing_context(self, context: Any) -> None:
        if context is not None:
            if self.num_workers == 0:
                raise ValueError(f"DataLoader: multiprocessing_context can only be used with "
                                 f"multi-process loading (num_workers > 0), but got "
                                 f"num_workers={self.num_workers}")
            if isinstance(context, str):
                methods = multiprocessing.get_all_start_methods()
                if context not in methods:
                    raise ValueError(f"DataLoader: multiprocessing_context option should "
                                     f"specify a valid start method in {methods!r}, but got "
                                     f"multiprocessing_context={context!r}")
                context = multiprocessing.get_context(context)
            if not isinstance(context, multiprocessing.context.BaseContext):
                raise TypeError(f"DataLoader: multiprocessing_context option should be a valid "
                                f"context object or a string specifying the start method, but "
                                f"got multiprocessing_context={context}")
        self._multiprocessing_context = context

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _SET_ONCE and self.__dict__.get("_initialized"):
            raise ValueError(f"{name} attribute should not be set after DataLoader is "
                             "initialized")
        super().__setattr__(name, value)

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None

    @property
    def _index_sampler(self) -> Iterable:
        return self.batch_sampler if self._auto_collation else self.sampler

    def __iter__(self) -> _BaseDataLoaderIter:
        if not self.persistent_workers:
            return self._get_iterator()
        if self._iterator is None:
            self._iterator = self._get_iterator()
        else:
            self._iterator._reset(self)
        return self._iterator

    def _get_iterator(self) -> _BaseDataLoaderIter:
        if self.num_workers == 0:
            return _SingleProcessDataLoaderIter(self)
        return _MultiProcessingDataLoaderIter(self)

    def __len__(self) -> int:
        if not isinstance(self.dataset, IterableDataset):
            return len(self._index_sampler)
        length = self._IterableDataset_len_called = len(self.dataset)
        if self.batch_size is None:
            return length
        return length // self.batch_size if self.drop_last else \
            math.ceil(length / self.batch_size)

    def check_worker_number_rationality(self) -> None:
        """Warn when num_workers exceeds the CPUs this process may use (as PyTorch)."""
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") \
            else os.cpu_count()
        if self.num_workers > 0 and (cpus is None or self.num_workers > cpus):
            warnings.warn(f"This DataLoader will create {self.num_workers} worker processes in "
                          f"total. Our suggested max number of worker in current system is "
                          f"{cpus}, which is smaller than what this DataLoader is going to "
                          "create. Please be aware that excessive worker creation might get "
                          "DataLoader running slow or even freeze, lower the worker number to "
                          "avoid potential slowness/freeze if necessary.", stacklevel=3)


def _check_workers(num_workers: int, timeout: float, prefetch_factor: int | None,
                   persistent_workers: bool) -> None:
    if num_workers < 0:
        raise ValueError("DataLoader: num_workers option should be non-negative; use "
                         "num_workers=0 to disable multiprocessing.")
    if timeout < 0:
        raise ValueError("DataLoader: timeout option should be non-negative")
    if num_workers == 0 and prefetch_factor is not None:
        raise ValueError("DataLoader: prefetch_factor option could only be specified in "
                         "multiprocessing. let num_workers > 0 to enable multiprocessing, "
                         "otherwise set prefetch_factor to None.")
    if prefetch_factor is not None and prefetch_factor < 1:
        raise ValueError(f"DataLoader: prefetch_factor option should be positive (batches "
                         f"each worker loads ahead), got {prefetch_factor}")
    if persistent_workers and num_workers == 0:
        raise ValueError("DataLoader: persistent_workers option needs num_workers > 0")


def _check_iterable(shuffle: bool | None, sampler: Any, batch_sampler: Any) -> None:
    if shuffle not in (False, None):
        raise ValueError(f"DataLoader with IterableDataset: expected unspecified shuffle "
                         f"option, but got shuffle={shuffle}")
    if sampler is not None:
        raise ValueError(f"DataLoader with IterableDataset: expected unspecified sampler "
                         f"option, but got sampler={sampler}")
    if batch_sampler is not None:
        raise ValueError(f"DataLoader with IterableDataset: expected unspecified "
                         f"batch_sampler option, but got batch_sampler={batch_sampler}")


def _check_map_style(dataset: Any, sampler: Any, batch_sampler: Any) -> None:
    own_sampler = sampler is not None or batch_sampler is not None
    if not hasattr(dataset, "__getitem__") or not (own_sampler or hasattr(dataset, "__len__")):
        raise TypeError(f"DataLoader: dataset must define __getitem__ and __len__ (a "
                        f"map-style dataset; __len__ may be missing with a sampler of your "
                        f"own) or be an IterableDataset, got {type(dataset).__name__}")
    if hasattr(dataset, "__len__") and len(dataset) == 0:
        raise ValueError(f"DataLoader: the dataset ({type(dataset).__name__}) is empty: "
                         "there is nothing to load (check the data source or the split)")
