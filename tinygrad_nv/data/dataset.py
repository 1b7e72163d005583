"""Datasets: `Dataset` (anything with __getitem__ and __len__), `TensorDataset`, `Subset` and
`random_split` (PyTorch's `torch.utils.data` names and semantics).

>>> data = TensorDataset(Tensor(x), Tensor(y))
>>> train, test = random_split(data, [0.8, 0.2], seed=0)
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_nv._tensor import Tensor
from tinygrad_nv.data.sampler import _generator


class Dataset:
    """Base class of map-style datasets: subclasses define `__getitem__(index)` and
    `__len__()`."""

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define __len__")


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
                             f"got shapes {[t.shape for t in self.tensors]}")
        lengths = [t.shape[0] for t in self.tensors]
        if len(set(lengths)) > 1:
            raise ValueError(f"TensorDataset: size mismatch between tensors: first dimensions "
                             f"{lengths} (shapes {[t.shape for t in self.tensors]}); every "
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


class Subset(Dataset):
    """The samples of `dataset` at `indices`, in that order."""

    def __init__(self, dataset: Any, indices: Sequence[int]):
        self.dataset, self.indices = dataset, list(indices)

    def __getitem__(self, index: int | list[int]) -> Any:
        if isinstance(index, list):
            return self.dataset[[self.indices[i] for i in index]]
        return self.dataset[self.indices[index]]

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
    order = _generator(generator, seed, "random_split").permutation(n).tolist()
    offsets = np.cumsum([0, *lengths]).tolist()
    return [Subset(dataset, order[start:stop]) for start, stop in zip(offsets, offsets[1:])]
