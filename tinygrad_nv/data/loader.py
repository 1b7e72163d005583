"""`DataLoader`: batches of a dataset as Tensors on a chosen device, and `default_collate`
(PyTorch's `torch.utils.data` semantics; single process).

>>> loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True, seed=0)
>>> for epoch in range(10):
...     for xb, yb in loader:
...         train_step(xb, yb)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from numbers import Number
from typing import Any

import numpy as np

from tinygrad_nv._tensor import Tensor
from tinygrad_nv.data.dataset import Subset, TensorDataset
from tinygrad_nv.data.sampler import BatchSampler, RandomSampler, SequentialSampler


def _gatherer(dataset: Any) -> Callable[[Sequence[int]], Any] | None:
    """A function batching the samples at given indices in one gather per tensor, for a
    TensorDataset or (nested) Subsets of one; None for other datasets."""
    if isinstance(dataset, TensorDataset):
        return dataset.gather
    if isinstance(dataset, Subset):
        inner = _gatherer(dataset.dataset)
        if inner is not None:
            return lambda indices: inner([dataset.indices[i] for i in indices])
    return None


def default_collate(batch: Sequence[Any], device: str | None = None) -> Any:
    """Stack a list of samples as torch's default_collate does: Tensors and NumPy arrays into
    one Tensor with a new first axis, Python floats into float64, ints into int64, bools into
    bool Tensors; tuples and lists position by position (a list), dicts key by key; strings
    stay a list. Tensors are made on `device` (the default device when None)."""
    elem = batch[0]
    if isinstance(elem, Tensor):
        out = Tensor.stack(list(batch))
        return out if device is None else out.to(device)
    if isinstance(elem, np.ndarray | np.number | np.bool_):
        if elem.dtype.kind not in "biuf":
            raise TypeError(f"default_collate: cannot batch NumPy arrays of dtype {elem.dtype}"
                            " (only bool, integer and floating point)")
        return Tensor(np.stack(batch), device=device)
    if isinstance(elem, str | bytes):
        return list(batch)
    if isinstance(elem, bool):
        return Tensor(np.array(batch, dtype=np.bool_), device=device)
    if isinstance(elem, int):
        return Tensor(np.array(batch, dtype=np.int64), device=device)
    if isinstance(elem, Number):
        return Tensor(np.array(batch, dtype=np.float64), device=device)
    if isinstance(elem, Mapping):
        return {key: default_collate([sample[key] for sample in batch], device)
                for key in elem}
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return type(elem)(*(default_collate(list(s), device) for s in zip(*batch)))
    if isinstance(elem, Sequence):
        if any(len(sample) != len(elem) for sample in batch):
            raise RuntimeError("default_collate: each element in the batch should be of equal "
                               f"size, got sizes {[len(sample) for sample in batch]}")
        return [default_collate(list(samples), device) for samples in zip(*batch)]
    raise TypeError(f"default_collate: a batch must contain Tensors, NumPy arrays, numbers, "
                    f"strings, dicts or sequences; found {type(elem).__name__}")


class DataLoader:
    """Iterates over `dataset` in batches of `batch_size` samples (shuffled each epoch with
    shuffle=True; reproducibly with seed= or generator=, a numpy.random.Generator), collated
    by `collate_fn` (default_collate) into Tensors on `device`. For a TensorDataset (or a
    Subset of one) with the default collation a batch is one gather per tensor.
    batch_size=None yields single samples, converted but not stacked.

    >>> loader = DataLoader(TensorDataset(x, y), batch_size=64, shuffle=True, seed=0)
    >>> len(loader), next(iter(loader))[0].shape        # (ceil(n / 64), (64, ...))
    """

    def __init__(self, dataset: Any, batch_size: int | None = 1, shuffle: bool = False,
                 sampler: Iterable[int] | None = None,
                 batch_sampler: Iterable[list[int]] | None = None,
                 collate_fn: Callable[[list[Any]], Any] | None = None,
                 drop_last: bool = False, *, generator: Any = None, seed: int | None = None,
                 device: str | None = None):
        if not hasattr(dataset, "__getitem__") or not hasattr(dataset, "__len__"):
            raise TypeError(f"DataLoader: dataset must define __getitem__ and __len__ (a "
                            f"map-style dataset), got {type(dataset).__name__}")
        if len(dataset) == 0:
            raise ValueError(f"DataLoader: the dataset ({type(dataset).__name__}) is empty: "
                             "there is nothing to load (check the data source or the split)")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("DataLoader: batch_sampler option is mutually exclusive with "
                                 "batch_size, shuffle, sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("DataLoader: batch_size=None option disables auto-batching and is "
                             "mutually exclusive with drop_last")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
        if sampler is None:
            sampler = RandomSampler(dataset, generator=generator, seed=seed) if shuffle \
                else SequentialSampler(dataset)
        elif generator is not None or seed is not None:
            raise ValueError("DataLoader: generator and seed shuffle with the default sampler; "
                             "with a sampler of your own, give them to the sampler")
        if batch_sampler is None and batch_size is not None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.dataset, self.sampler, self.batch_sampler = dataset, sampler, batch_sampler
        self.batch_size, self.drop_last, self.device = batch_size, drop_last, device
        self.generator = generator
        self.collate_fn = default_collate if collate_fn is None else collate_fn

    def __iter__(self) -> Iterator[Any]:
        if self.batch_sampler is None:
            for index in self.sampler:
                yield self._convert(self.dataset[index])
            return
        gather = _gatherer(self.dataset) if self.collate_fn is default_collate else None
        for indices in self.batch_sampler:
            if gather is not None:
                yield self._to_device(gather(indices))
            elif self.collate_fn is default_collate:
                yield default_collate([self.dataset[i] for i in indices], self.device)
            else:
                yield self._to_device(self.collate_fn([self.dataset[i] for i in indices]))

    def __len__(self) -> int:
        return len(self.batch_sampler if self.batch_sampler is not None else self.sampler)

    def _convert(self, sample: Any) -> Any:
        """One sample without batching: arrays and Tensors become Tensors on the device."""
        if isinstance(sample, Tensor | np.ndarray):
            return self._to_device(Tensor(sample) if isinstance(sample, np.ndarray) else sample)
        if isinstance(sample, Mapping):
            return {k: self._convert(v) for k, v in sample.items()}
        if isinstance(sample, tuple | list):
            return type(sample)(self._convert(v) for v in sample)
        return sample

    def _to_device(self, batch: Any) -> Any:
        if self.device is None:
            return batch
        if isinstance(batch, Tensor):
            return batch.to(self.device)
        if isinstance(batch, Mapping):
            return {k: self._to_device(v) for k, v in batch.items()}
        if isinstance(batch, tuple) and hasattr(batch, "_fields"):  # namedtuple
            return type(batch)(*(self._to_device(v) for v in batch))
        if isinstance(batch, tuple | list):
            return type(batch)(self._to_device(v) for v in batch)
        return batch
