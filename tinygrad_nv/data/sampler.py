"""Samplers: which dataset indices a DataLoader visits, in what order, in what batches
(PyTorch's `SequentialSampler RandomSampler SubsetRandomSampler WeightedRandomSampler
BatchSampler`, with their lengths and errors). Random indices are drawn lazily, a chunk at a
time, so `RandomSampler(data, replacement=True, num_samples=int(1e10))` costs no memory.

Random order comes from `generator`: a `tinygrad_nv.Generator` on the CPU (its stream as it is
when the indices are drawn, so reseeding it takes effect), a numpy.random.Generator, one made
from `seed`; with none, a fresh stream per epoch seeded from the global generator (so
`tinygrad_nv.manual_seed(n)` makes shuffling reproducible too).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence, Sized
from typing import Any

import numpy as np

from tinygrad_nv.backend import get_backend
from tinygrad_nv.random import Generator

_CHUNK = 32  # indices drawn with replacement per call (as PyTorch's RandomSampler)

RandomSource = Generator | np.random.Generator


def _fixed(generator: Any, seed: int | None, op: str) -> RandomSource | None:
    """A sampler's (or the DataLoader's) own random source from its generator= or seed=
    arguments; None: a fresh stream from the global one each epoch."""
    if generator is not None and seed is not None:
        raise ValueError(f"{op}: pass generator or seed, not both")
    if seed is not None:
        if not isinstance(seed, int | np.integer) or isinstance(seed, bool):
            raise TypeError(f"{op}: seed must be an int, got {type(seed).__name__}")
        return np.random.default_rng(seed)
    if generator is None or isinstance(generator, np.random.Generator):
        return generator
    if not isinstance(generator, Generator):
        raise TypeError(f"{op}: generator must be a tinygrad_nv.Generator or a "
                        f"numpy.random.Generator (or pass seed=<int>), got "
                        f"{type(generator).__name__}")
    if not isinstance(generator.rng, np.random.Generator):
        raise ValueError(f"{op}: expected a CPU generator, got {generator} (indices are drawn "
                         "on the host)")
    return generator


def _generator(source: RandomSource | None) -> np.random.Generator:
    """The NumPy Generator to draw from now: the source's stream, or a new one seeded from
    the global generator."""
    if isinstance(source, Generator):
        return source.rng
    if source is not None:
        return source
    return np.random.default_rng(int(get_backend("cpu").rng.integers(2**63)))


def _positive_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool) and value > 0


class Sampler:
    """Base class: an iterable of dataset indices (or of index batches), usually with a
    length."""

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
    permutation), or num_samples indices drawn with replacement; drawn lazily.

    >>> list(RandomSampler(range(4), seed=0))    # e.g. [2, 0, 1, 3]; another order next epoch
    """

    def __init__(self, data_source: Sized, replacement: bool = False,
                 num_samples: int | None = None, generator: Any = None, *,
                 seed: int | None = None):
        if not isinstance(replacement, bool):
            raise TypeError(f"RandomSampler: replacement should be a boolean value, but got "
                            f"replacement={replacement!r}")
        self.data_source, self.replacement, self._num_samples = \
            data_source, replacement, num_samples
        self.generator = _fixed(generator, seed, "RandomSampler")
        if not _positive_int(self.num_samples):
            raise ValueError(f"RandomSampler: num_samples should be a positive integer value, "
                             f"but got num_samples={self.num_samples}")

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self) -> Iterator[int]:
        rng = _generator(self.generator)
        n, count = len(self.data_source), int(self.num_samples)
        if self.replacement:
            for _ in range(count // _CHUNK):
                yield from rng.integers(n, size=_CHUNK).tolist()
            yield from rng.integers(n, size=count % _CHUNK).tolist()
        else:
            for _ in range(count // n):
                yield from rng.permutation(n).tolist()
            yield from rng.permutation(n)[:count % n].tolist()

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given indices in a random order (a new one each epoch).

    >>> list(SubsetRandomSampler([10, 20, 30], seed=0))    # e.g. [30, 10, 20]
    """

    def __init__(self, indices: Sequence[int], generator: Any = None, *,
                 seed: int | None = None):
        self.indices = indices
        self.generator = _fixed(generator, seed, "SubsetRandomSampler")

    def __iter__(self) -> Iterator[int]:
        rng = _generator(self.generator)
        for i in rng.permutation(len(self.indices)).tolist():
            yield self.indices[i]

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """num_samples indices of `weights` (not necessarily summing to 1), index i drawn with
    probability weights[i] / sum(weights); with replacement (drawn lazily) or without (each
    index at most once, zero-weight indices last, as torch.multinomial).

    >>> list(WeightedRandomSampler([0.1, 0.9, 0.0], 5, seed=0))    # e.g. [1, 1, 0, 1, 1]
    """

    def __init__(self, weights: Sequence[float], num_samples: int, replacement: bool = True,
                 generator: Any = None, *, seed: int | None = None):
        if not _positive_int(num_samples):
            raise ValueError(f"WeightedRandomSampler: num_samples should be a positive integer "
                             f"value, but got num_samples={num_samples}")
        if not isinstance(replacement, bool):
            raise ValueError(f"WeightedRandomSampler: replacement should be a boolean value, "
                             f"but got replacement={replacement}")
        weights = np.asarray(weights, dtype=np.float64)
        if weights.ndim != 1:
            raise ValueError(f"WeightedRandomSampler: weights should be a 1d sequence but given "
                             f"weights have shape {tuple(weights.shape)}")
        self.weights, self.num_samples, self.replacement = weights, int(num_samples), replacement
        self.generator = _fixed(generator, seed, "WeightedRandomSampler")

    def __iter__(self) -> Iterator[int]:
        w, count = self.weights, self.num_samples
        if not np.all(np.isfinite(w) & (w >= 0)):
            raise RuntimeError("WeightedRandomSampler: probability tensor contains either "
                               "`inf`, `nan` or element < 0")
        if not w.sum() > 0:
            raise RuntimeError("WeightedRandomSampler: invalid multinomial distribution (sum "
                               "of probabilities <= 0)")
        if not self.replacement and count > len(w):
            raise RuntimeError("WeightedRandomSampler: cannot sample n_sample > "
                               "prob_dist.size(-1) samples without replacement")
        rng = _generator(self.generator)
        if not self.replacement:
            # exponential race: the smallest E_i / w_i come first (w_i = 0 last, in order)
            with np.errstate(divide="ignore"):
                keys = rng.exponential(size=len(w)) / w
            yield from np.argsort(keys, kind="stable")[:count].tolist()
            return
        cdf, last = np.cumsum(w), int(np.flatnonzero(w)[-1])
        for start in range(0, count, _CHUNK):
            u = rng.random(min(_CHUNK, count - start)) * cdf[-1]
            # side="right" never picks a zero-weight index (its cdf step is empty); `last`
            # catches u rounded up to the total
            yield from np.minimum(np.searchsorted(cdf, u, side="right"), last).tolist()

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler):
    """Groups the indices of `sampler` into lists of batch_size (the last one shorter unless
    drop_last).

    >>> list(BatchSampler(SequentialSampler(range(5)), 2, drop_last=False))
    [[0, 1], [2, 3], [4]]
    """

    def __init__(self, sampler: Iterable[int], batch_size: int, drop_last: bool):
        if not _positive_int(batch_size):
            raise ValueError(f"BatchSampler: batch_size should be a positive integer value, "
                             f"but got batch_size={batch_size!r}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"BatchSampler: drop_last should be a boolean value, but got "
                             f"drop_last={drop_last!r}")
        self.sampler, self.batch_size, self.drop_last = sampler, int(batch_size), drop_last

    def __iter__(self) -> Iterator[list[int]]:
        indices = iter(self.sampler)
        batch = list(itertools.islice(indices, self.batch_size))
        while len(batch) == self.batch_size:
            yield batch
            batch = list(itertools.islice(indices, self.batch_size))
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)


class _InfiniteConstantSampler(Sampler):
    """None forever: the index sampler of an IterableDataset (its batches size the draws)."""

    def __iter__(self) -> Iterator[None]:
        return itertools.repeat(None)
