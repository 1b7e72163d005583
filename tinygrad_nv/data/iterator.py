"""What `iter(DataLoader)` returns: one pass over the index sampler. `_BaseDataLoaderIter`
keeps what both kinds share (the sampler pass, the base seed of the workers, placing and
pinning each batch); `_SingleProcessDataLoaderIter` fetches in the calling process. The
multi-process iterator is in `multiprocess.py` (PyTorch's classes of the same names)."""

from __future__ import annotations

import warnings
from typing import Any

from tinygrad_nv._tensor import Tensor
from tinygrad_nv.backend import cuda_unavailable_reason, get_backend
from tinygrad_nv.data.collate import map_structure, pin_memory
from tinygrad_nv.data.dataset import IterableDataset
from tinygrad_nv.data.fetch import create_fetcher
from tinygrad_nv.data.sampler import RandomSource, _generator


def base_seed(generator: RandomSource | None) -> int:
    """A new base seed for the workers of one iterator, from the loader's generator or the
    global one (drawn with or without workers, so the sampler's stream is the same)."""
    rng = get_backend("cpu").rng if generator is None else _generator(generator)
    return int(rng.integers(2**63))


class _BaseDataLoaderIter:
    """One pass over the loader's index sampler."""

    def __init__(self, loader: Any):
        self._dataset, self._index_sampler = loader.dataset, loader._index_sampler
        self._iterable = isinstance(loader.dataset, IterableDataset)
        self._auto_collation, self._drop_last = loader._auto_collation, loader.drop_last
        self._collate_fn, self._device = loader.collate_fn, loader.device
        self._num_workers, self._timeout = loader.num_workers, loader.timeout
        self._pin_memory = loader.pin_memory and cuda_unavailable_reason() is None
        if loader.pin_memory and not self._pin_memory:
            warnings.warn("'pin_memory' argument is set as true but no accelerator is found, "
                          "then device pinned memory won't be used.", stacklevel=3)
        self._sampler_iter = iter(self._index_sampler)
        self._base_seed = base_seed(loader.generator)
        self._num_yielded, self._len_called = 0, loader._IterableDataset_len_called

    def __iter__(self) -> _BaseDataLoaderIter:
        return self

    def _reset(self, loader: Any) -> None:
        self._sampler_iter = iter(self._index_sampler)
        self._num_yielded, self._len_called = 0, loader._IterableDataset_len_called

    def __next__(self) -> Any:
        data = self._next_data()
        self._num_yielded += 1
        if self._iterable and self._len_called is not None \
                and self._num_yielded > self._len_called:
            hint = (" For multiprocessing data-loading, this could be caused by not properly "
                    "configuring the IterableDataset replica at each worker (see "
                    "get_worker_info).") if self._num_workers > 0 else ""
            warnings.warn(f"Length of IterableDataset {self._dataset} was reported to be "
                          f"{self._len_called} (when accessing len(dataloader)), but "
                          f"{self._num_yielded} samples have been fetched.{hint}", stacklevel=2)
        return data

    def __len__(self) -> int:
        return len(self._index_sampler)

    def _next_data(self) -> Any:
        raise NotImplementedError

    def _place(self, batch: Any) -> Any:
        """The batch's Tensors on the loader's device, pinned with pin_memory=True."""
        if self._device is not None:
            batch = map_structure(batch, Tensor, lambda t: t.to(self._device))
        return pin_memory(batch) if self._pin_memory else batch


class _SingleProcessDataLoaderIter(_BaseDataLoaderIter):
    """Fetches each batch in the calling process (num_workers=0)."""

    def __init__(self, loader: Any):
        super().__init__(loader)
        self._fetcher = create_fetcher(self._dataset, self._auto_collation, self._collate_fn,
                                       self._drop_last, self._device)

    def _next_data(self) -> Any:
        index = next(self._sampler_iter)  # StopIteration ends the pass
        return self._place(self._fetcher.fetch(index))
