"""`DistributedSampler`: each process of a data-parallel job visits its own part of the dataset
(PyTorch's `torch.utils.data.distributed.DistributedSampler`, with the same partition)."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sized

import numpy as np

from tinygrad_nv.data.sampler import Sampler


class DistributedSampler(Sampler):
    """The indices of rank `rank` out of `num_replicas` (default: the distributed world's).

    Each epoch the indices are shuffled (with `shuffle`, from `seed + epoch`: call
    `set_epoch(epoch)` before each epoch, the same on every rank), then either padded by
    repeating indices from the start until every rank gets the same number (`drop_last=False`)
    or cut to a multiple of num_replicas (`drop_last=True`); rank r takes every
    num_replicas-th index starting at r. Together the ranks cover the dataset, each index
    once (plus the padding).

    >>> sampler = DistributedSampler(dataset)     # after tinygrad_nv.distributed.init()
    >>> loader = DataLoader(dataset, batch_size=32, sampler=sampler)
    >>> for epoch in range(epochs):
    ...     sampler.set_epoch(epoch)
    """

    def __init__(self, dataset: Sized, num_replicas: int | None = None, rank: int | None = None,
                 shuffle: bool = True, seed: int = 0, drop_last: bool = False):
        if num_replicas is None or rank is None:
            world_size, world_rank = _world()
            num_replicas = world_size if num_replicas is None else num_replicas
            rank = world_rank if rank is None else rank
        for name, value in (("num_replicas", num_replicas), ("rank", rank), ("seed", seed)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
                raise TypeError(f"DistributedSampler: {name} must be an int, got "
                                f"{type(value).__name__}")
        if num_replicas < 1:
            raise ValueError(f"DistributedSampler: num_replicas must be at least 1, got "
                             f"{num_replicas}")
        if not 0 <= rank < num_replicas:
            raise ValueError(f"DistributedSampler: invalid rank {rank}, rank should be in the "
                             f"interval [0, {num_replicas - 1}]")
        self.dataset, self.num_replicas, self.rank = dataset, int(num_replicas), int(rank)
        self.shuffle, self.seed, self.drop_last = shuffle, int(seed), drop_last
        self.epoch = 0
        n = len(dataset)
        if drop_last and n % self.num_replicas != 0:
            self.num_samples = math.ceil((n - self.num_replicas) / self.num_replicas)
        else:
            self.num_samples = math.ceil(n / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def __iter__(self) -> Iterator[int]:
        n = len(self.dataset)
        if self.shuffle:
            indices = np.random.default_rng(self.seed + self.epoch).permutation(n).tolist()
        else:
            indices = list(range(n))
        if not self.drop_last:
            padding = self.total_size - n
            if padding > 0:
                indices += (indices * math.ceil(padding / n))[:padding]
        else:
            indices = indices[:self.total_size]
        return iter(indices[self.rank:self.total_size:self.num_replicas])

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """The epoch that seeds the next shuffle (all ranks must pass the same)."""
        self.epoch = int(epoch)


def _world() -> tuple[int, int]:
    # the distributed package stands above data; it is needed only for these defaults
    from tinygrad_nv import distributed

    if not distributed.is_initialized():
        raise RuntimeError("DistributedSampler: num_replicas and rank default to the "
                           "distributed world: call tinygrad_nv.distributed.init() first, or "
                           "pass num_replicas= and rank=")
    return distributed.world_size(), distributed.rank()
