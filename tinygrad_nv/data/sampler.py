"""Samplers: which dataset indices a DataLoader visits, in what order, in what batches
(PyTorch's `SequentialSampler RandomSampler BatchSampler`).

Random order comes from a NumPy Generator: the one passed as `generator`, one made from
`seed`, or, with neither, a fresh one per epoch seeded from the global generator (so
`Tensor.manual_seed(n)` makes shuffling reproducible too).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sized
from typing import Any

import numpy as np

from tinygrad_nv.backend import get_backend


def _generator(generator: Any, seed: int | None, op: str) -> np.random.Generator:
    """The Generator to draw from: `generator`, or a new one from `seed` or the global one."""
    if generator is not None and seed is not None:
        raise ValueError(f"{op}: pass generator or seed, not both")
    if generator is not None:
        if not isinstance(generator, np.random.Generator):
            raise TypeError(f"{op}: generator must be a numpy.random.Generator (or pass "
                            f"seed=<int>), got {type(generator).__name__}")
        return generator
    if seed is None:
        seed = int(get_backend("cpu").rng.integers(2**63))
    elif not isinstance(seed, int | np.integer) or isinstance(seed, bool):
        raise TypeError(f"{op}: seed must be an int, got {type(seed).__name__}")
    return np.random.default_rng(seed)


class Sampler:
    """Base class: an iterable of dataset indices (or of index batches) with a length."""

    def __iter__(self) -> Iterator[Any]:
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")


class SequentialSampler(Sampler):
    """0, 1, ..., len(data_source) - 1."""

    def __init__(self, data_source: Sized):
        self.data_source = data_source

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler):
    """A random permutation of the indices each epoch (num_samples of them, permutation after
    permutation), or num_samples indices drawn with replacement.

    >>> list(RandomSampler(range(4), seed=0))    # e.g. [2, 0, 1, 3]; another order next epoch
    """

    def __init__(self, data_source: Sized, replacement: bool = False,
                 num_samples: int | None = None, generator: Any = None,
                 seed: int | None = None):
        if not isinstance(replacement, bool):
            raise TypeError(f"RandomSampler: replacement must be a bool, got {replacement!r}")
        if generator is not None and seed is not None:
            raise ValueError("RandomSampler: pass generator or seed, not both")
        self.data_source, self.replacement, self._num_samples = \
            data_source, replacement, num_samples
        self.generator = None if generator is None and seed is None else \
            _generator(generator, seed, "RandomSampler")
        n = self.num_samples
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n <= 0:
            raise ValueError(f"RandomSampler: num_samples should be a positive integer value, "
                             f"but got num_samples={n} (dataset of length "
                             f"{len(data_source)})")

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self) -> Iterator[int]:
        rng = self.generator or _generator(None, None, "RandomSampler")
        n, count = len(self.data_source), self.num_samples
        if self.replacement:
            return iter(rng.integers(n, size=count).tolist())
        perms = [rng.permutation(n) for _ in range(-(-count // n))]
        return iter(np.concatenate(perms)[:count].tolist())

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler):
    """Groups the indices of `sampler` into lists of batch_size (the last one shorter unless
    drop_last).

    >>> list(BatchSampler(SequentialSampler(range(5)), 2, drop_last=False))
    [[0, 1], [2, 3], [4]]
    """

    def __init__(self, sampler: Iterable[int], batch_size: int, drop_last: bool):
        if isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer) \
                or batch_size <= 0:
            raise ValueError(f"BatchSampler: batch_size should be a positive integer value, "
                             f"but got batch_size={batch_size!r}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"BatchSampler: drop_last should be a boolean value, but got "
                             f"drop_last={drop_last!r}")
        self.sampler, self.batch_size, self.drop_last = sampler, int(batch_size), drop_last

    def __iter__(self) -> Iterator[list[int]]:
        batch: list[int] = []
        for index in self.sampler:
            batch.append(index)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
