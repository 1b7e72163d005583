"""Fetchers: one batch (or sample) of a dataset from what the index sampler yields, shared by
the main process and the workers (PyTorch's `_MapDatasetFetcher` and
`_IterableDatasetFetcher`). A TensorDataset (or Subsets of one) with the default collation is
batched by one gather per tensor."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from tinygrad_nv.data.collate import default_collate, default_convert
from tinygrad_nv.data.dataset import IterableDataset, Subset, TensorDataset, _items


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


class _Fetcher:
    """What both kinds keep; our collations make their Tensors on `device`."""

    def __init__(self, dataset: Any, auto_collation: bool, collate_fn: Callable,
                 drop_last: bool, device: str | None):
        self.dataset, self.auto_collation, self.drop_last = dataset, auto_collation, drop_last
        ours = collate_fn is default_collate or collate_fn is default_convert
        self.collate_fn = functools.partial(collate_fn, device=device) if ours else collate_fn

    def fetch(self, index: Any) -> Any:
        raise NotImplementedError


class _MapFetcher(_Fetcher):
    """dataset[index] converted, or the samples at a list of indices collated."""

    def __init__(self, dataset: Any, auto_collation: bool, collate_fn: Callable,
                 drop_last: bool, device: str | None):
        super().__init__(dataset, auto_collation, collate_fn, drop_last, device)
        self.gather = _gatherer(dataset) if collate_fn is default_collate else None

    def fetch(self, index: Any) -> Any:
        if not self.auto_collation:
            return self.collate_fn(self.dataset[index])
        if self.gather is not None:
            return self.gather(index)
        return self.collate_fn(_items(self.dataset, index))


class _IterableFetcher(_Fetcher):
    """The next sample, or the next len(index) samples collated, of one pass over the
    dataset; StopIteration once it is exhausted (or only a short batch is left with
    drop_last)."""

    def __init__(self, dataset: Any, auto_collation: bool, collate_fn: Callable,
                 drop_last: bool, device: str | None):
        super().__init__(dataset, auto_collation, collate_fn, drop_last, device)
        self.iterator, self.ended = iter(dataset), False

    def fetch(self, index: Any) -> Any:
        if self.ended:
            raise StopIteration
        if not self.auto_collation:
            return self.collate_fn(next(self.iterator))
        samples = []
        for _ in index:
            try:
                samples.append(next(self.iterator))
            except StopIteration:
                self.ended = True
                break
        if not samples or (self.drop_last and len(samples) < len(index)):
            raise StopIteration
        return self.collate_fn(samples)


def create_fetcher(dataset: Any, auto_collation: bool, collate_fn: Callable, drop_last: bool,
                   device: str | None) -> _Fetcher:
    """The fetcher of the dataset's kind (IterableDataset or map-style)."""
    kind = _IterableFetcher if isinstance(dataset, IterableDataset) else _MapFetcher
    return kind(dataset, auto_collation, collate_fn, drop_last, device)
