"""data.DistributedSampler: PyTorch's partition (padding or cutting, every num_replicas-th
index), disjoint and complete across ranks, reproducible per epoch."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_nv import Tensor
from tinygrad_nv.data import DataLoader, DistributedSampler, TensorDataset

sizes = st.integers(1, 40)
replicas = st.integers(1, 6)


def partition(n: int, num_replicas: int, **kwargs) -> list[list[int]]:
    return [list(DistributedSampler(range(n), num_replicas, rank, **kwargs))
            for rank in range(num_replicas)]


@given(n=sizes, num_replicas=replicas, shuffle=st.booleans(), seed=st.integers(0, 9))
def test_without_drop_last_every_index_once_plus_padding(n, num_replicas, shuffle, seed):
    parts = partition(n, num_replicas, shuffle=shuffle, seed=seed)
    per_rank = math.ceil(n / num_replicas)
    assert [len(p) for p in parts] == [per_rank] * num_replicas
    seen = [i for p in parts for i in p]
    assert sorted(set(seen)) == list(range(n))  # complete
    # disjoint but for the padding, which repeats indices from the start of the order
    assert len(seen) - len(set(seen)) == per_rank * num_replicas - n


@given(n=sizes, num_replicas=replicas, shuffle=st.booleans())
def test_with_drop_last_disjoint_and_cut_to_a_multiple(n, num_replicas, shuffle):
    parts = partition(n, num_replicas, shuffle=shuffle, drop_last=True)
    seen = [i for p in parts for i in p]
    assert len(seen) == len(set(seen)) == n // num_replicas * num_replicas
    assert all(len(p) == n // num_replicas for p in parts)


@given(n=sizes, num_replicas=replicas, drop_last=st.booleans())
def test_unshuffled_rank_r_takes_every_num_replicas_th_index(n, num_replicas, drop_last):
    total = (n // num_replicas if drop_last else math.ceil(n / num_replicas)) * num_replicas
    order = (list(range(n)) * (total // n + 1))[:total]  # padding wraps around
    for rank, part in enumerate(partition(n, num_replicas, shuffle=False,
                                          drop_last=drop_last)):
        assert part == order[rank::num_replicas]


def test_reproducible_per_epoch_and_different_across_epochs():
    sampler = DistributedSampler(range(100), num_replicas=3, rank=1, seed=5)
    first = list(sampler)
    assert list(sampler) == first  # the same epoch gives the same order
    sampler.set_epoch(1)
    second = list(sampler)
    assert second != first
    other = DistributedSampler(range(100), num_replicas=3, rank=1, seed=5)
    other.set_epoch(1)
    assert list(other) == second  # another process (same seed and epoch) agrees
    assert list(DistributedSampler(range(100), 3, 1, seed=6)) != first


def test_feeds_a_dataloader():
    dataset = TensorDataset(Tensor.arange(10))
    sampler = DistributedSampler(dataset, num_replicas=2, rank=1, shuffle=False)
    batches = [b[0].tolist() for b in DataLoader(dataset, batch_size=2, sampler=sampler)]
    assert batches == [[1, 3], [5, 7], [9]]


def test_matches_torch():
    torch_data = pytest.importorskip("torch.utils.data.distributed")
    for n, num_replicas, drop_last in ((10, 3, False), (10, 3, True), (2, 5, False)):
        for rank in range(num_replicas):
            theirs = torch_data.DistributedSampler(range(n), num_replicas, rank, shuffle=False,
                                                   drop_last=drop_last)
            ours = DistributedSampler(range(n), num_replicas, rank, shuffle=False,
                                      drop_last=drop_last)
            assert list(ours) == list(theirs) and len(ours) == len(theirs)


@pytest.mark.parametrize("kwargs, kind, words", [
    (dict(num_replicas=2, rank=2), ValueError, "interval [0, 1]"),
    (dict(num_replicas=2, rank=-1), ValueError, "invalid rank -1"),
    (dict(num_replicas=0, rank=0), ValueError, "at least 1"),
    (dict(num_replicas=2, rank=0.5), TypeError, "rank must be an int"),
    (dict(num_replicas=2), RuntimeError, "init()"),
])
def test_bad_arguments(kwargs, kind, words):
    with pytest.raises(kind) as info:
        DistributedSampler(range(4), **kwargs)
    assert words in str(info.value)
