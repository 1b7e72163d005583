"""Datasets (PyTorch's `torch.utils.data` names and semantics): map-style `Dataset`
(__getitem__, usually __len__), `IterableDataset` (__iter__), `TensorDataset`, `StackDataset`,
`ConcatDataset` (also `a + b`), `ChainDataset` (iterable `a + b`), `Subset`, `random_split`.

>>> data = TensorDataset(Tensor(x), Tensor(y))
>>> train, test = random_split(data, [0.8, 0.2], seed=0)
"""

from __future__ import annotations

import bisect
import itertools
import math
import warnings
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from tinygrad_nv._tensor import Tensor
from tinygrad_nv.data.sampler import _fixed, _generator


class Dataset:
    """Base class of map-style datasets: subclasses define `__getitem__(index)` and, for the
    default samplers, `__len__()`; optionally `__getitems__(indices)` (a list of samples).
    `a + b` is ConcatDataset([a, b])."""

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __add__(self, other: Dataset) -> ConcatDataset:
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """Base class of datasets that are streams: subclasses define `__iter__()`. In a
    DataLoader with workers each worker iterates its own copy: split the work by
    `get_worker_info()` (None in the main process). `a + b` is ChainDataset([a, b]).

    >>> class Range(IterableDataset):
    ...     def __iter__(self):
    ...         info = get_worker_info()
    ...         return iter(range(0, 8) if info is None else range(info.id, 8, info.num_workers))
    """

    def __iter__(self) -> Iterator[Any]:
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")

    def __add__(self, other: Dataset) -> ChainDataset:  # type: ignore[override]
        return ChainDataset([self, other])


class TensorDataset(Dataset):
    """Samples are tuples of rows of tensors that share their first dimension; arrays are
    turned into Tensors (keeping their dtype).

    >>> ds = TensorDataset(Tensor(x), Tensor(y)); x0, y0 = ds[0]
    """

    def __init__(self, *tensors: Any):
        if not tensors:
            raise ValueError("TensorDataset: needs at least one tensor")
        self.tensors = tuple(t if isinstance(t, Tensor) else Tensor(t) for t in tensors)
        if any(t.ndim == 0 for t in self.tensors):
            raise ValueError("TensorDataset: every tensor needs a first (sample) dimension, "
                             f"got shapes {[tuple(t.shape) for t in self.tensors]}")
        lengths = [t.shape[0] for t in self.tensors]
        if len(set(lengths)) > 1:
            raise ValueError(f"TensorDataset: size mismatch between tensors: first dimensions "
                             f"{lengths} (shapes {[tuple(t.shape) for t in self.tensors]}); every "
                             "tensor needs the same number of samples")

    def __getitem__(self, index: int) -> tuple[Tensor, ...]:
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].shape[0]

    def gather(self, indices: Sequence[int]) -> list[Tensor]:
        """The samples at `indices`, batched: one gather per tensor (what the DataLoader's
        default collation would build item by item)."""
        index = np.asarray(indices, dtype=np.int64)
        return [t[Tensor(index, device=t.device)] for t in self.tensors]


class StackDataset(Dataset):
    """Datasets of one length side by side: sample i is the tuple (positional datasets) or the
    dict (keyword datasets) of their samples i.

    >>> StackDataset(images, labels)[0] == (images[0], labels[0])
    >>> StackDataset(image=images, label=labels)[0]    # {"image": ..., "label": ...}
    """

    def __init__(self, *args: Any, **kwargs: Any):
        if args and kwargs:
            raise ValueError("StackDataset: supported either ``tuple``- (via ``args``) or "
                             "``dict``- (via ``kwargs``) like input/output, but both types are "
                             "given.")
        if not args and not kwargs:
            raise ValueError("StackDataset: at least one dataset should be passed")
        self.datasets: tuple | dict = args or kwargs
        lengths = [len(d) for d in (args or kwargs.values())]
        if len(set(lengths)) > 1:
            raise ValueError(f"StackDataset: size mismatch between datasets: lengths {lengths}")
        self._length = lengths[0]

    def __getitem__(self, index: int) -> tuple | dict:
        if isinstance(self.datasets, dict):
            return {k: d[index] for k, d in self.datasets.items()}
        return tuple(d[index] for d in self.datasets)

    def __getitems__(self, indices: list[int]) -> list:
        """The samples at `indices` (each dataset's own __getitems__ where it has one)."""
        named = isinstance(self.datasets, dict)
        columns = [_items(d, indices) for d in (self.datasets.values() if named
                                                 else self.datasets)]
        if named:
            return [dict(zip(self.datasets, row)) for row in zip(*columns)]
        return list(zip(*columns))

    def __len__(self) -> int:
        return self._length


class ConcatDataset(Dataset):
    """Map-style datasets one after the other (`cumulative_sizes[i]`: the end of dataset i).

    >>> len(ConcatDataset([range(3), range(5)])), ConcatDataset([range(3), range(5)])[4]
    (8, 1)
    """

    def __init__(self, datasets: Iterable[Any]):
        self.datasets = list(datasets)
        if not self.datasets:
            raise AssertionError("ConcatDataset: datasets should not be an empty iterable")
        if any(isinstance(d, IterableDataset) for d in self.datasets):
            raise AssertionError("ConcatDataset does not support IterableDataset")
        self.cumulative_sizes = list(itertools.accumulate(len(d) for d in self.datasets))

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, index: int) -> Any:
        if index < 0:
            if -index > len(self):
                raise ValueError(f"ConcatDataset: absolute value of index should not exceed "
                                 f"dataset length ({index} for length {len(self)})")
            index += len(self)
        which = bisect.bisect_right(self.cumulative_sizes, index)
        start = self.cumulative_sizes[which - 1] if which else 0
        return self.datasets[which][index - start]


class ChainDataset(IterableDataset):
    """IterableDatasets one after the other, chained as they are iterated."""

    def __init__(self, datasets: Iterable[Any]):
        self.datasets = datasets

    def __iter__(self) -> Iterator[Any]:
        for d in self.datasets:
            _check_iterable(d)
            yield from d

    def __len__(self) -> int:
        return sum(len(_check_iterable(d)) for d in self.datasets)


def _check_iterable(dataset: Any) -> Any:
    if not isinstance(dataset, IterableDataset):
        raise AssertionError(f"ChainDataset only supports IterableDataset, got "
                             f"{type(dataset).__name__}")
    return dataset


def _items(dataset: Any, indices: list[int]) -> list:
    """dataset.__getitems__(indices) where it exists, else the samples one by one."""
    getitems = getattr(dataset, "__getitems__", None)
    if not callable(getitems):
        return [dataset[i] for i in indices]
    items = getitems(indices)
    if len(items) != len(indices):
        raise ValueError(f"Nested dataset's output size mismatch. Expected {len(indices)}, got "
                         f"{len(items)}")
    return items


class Subset(Dataset):
    """The samples of `dataset` at `indices`, in that order."""

    def __init__(self, dataset: Any, indices: Sequence[int]):
        self.dataset, self.indices = dataset, list(indices)
        if type(self).__getitem__ is not Subset.__getitem__ \
                and type(self).__getitems__ is Subset.__getitems__:
            raise NotImplementedError(
                f"{type(self).__name__} overrides __getitem__ but not __getitems__: the "
                "DataLoader fetches batches with __getitems__; add\n\n"
                "def __getitems__(self, indices):\n"
                "    return [self.__getitem__(idx) for idx in indices]")

    def __getitem__(self, index: int | list[int]) -> Any:
        if isinstance(index, list):
            return self.dataset[[self.indices[i] for i in index]]
        return self.dataset[self.indices[index]]

    def __getitems__(self, indices: list[int]) -> list:
        """The samples at `indices` of the subset (the dataset's __getitems__ where it has
        one)."""
        return _items(self.dataset, [self.indices[i] for i in indices])

    def __len__(self) -> int:
        return len(self.indices)


def random_split(dataset: Any, lengths: Sequence[int | float], generator: Any = None,
                 seed: int | None = None) -> list[Subset]:
    """Split into non-overlapping random Subsets of the given lengths, or of fractions that
    sum to 1 (floor(n * fraction) each, the remainder spread one by one from the first).

    >>> train, val = random_split(ds, [0.9, 0.1], seed=0)
    """
    n = len(dataset)
    lengths = list(lengths)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        for i, fraction in enumerate(lengths):
            if not 0 <= fraction <= 1:
                raise ValueError(f"random_split: fraction at index {i} is not between 0 and 1: "
                                 f"{fraction}")
        sizes = [int(math.floor(n * fraction)) for fraction in lengths]
        for i in range(n - sum(sizes)):
            sizes[i % len(sizes)] += 1
        for i, size in enumerate(sizes):
            if size == 0:
                warnings.warn(f"random_split: the split at index {i} is empty", stacklevel=2)
        lengths = sizes
    if any(not isinstance(k, int | np.integer) or k < 0 for k in lengths):
        raise ValueError(f"random_split: lengths must be non-negative ints or fractions that "
                         f"sum to 1, got {lengths}")
    if sum(lengths) != n:
        raise ValueError(f"random_split: the lengths {lengths} sum to {sum(lengths)}, not to "
                         f"the dataset's length {n}")
    order = _generator(_fixed(generator, seed, "random_split")).permutation(n).tolist()
    offsets = np.cumsum([0, *lengths]).tolist()
    return [Subset(dataset, order[start:stop]) for start, stop in zip(offsets, offsets[1:])]
