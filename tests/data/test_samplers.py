"""Samplers against torch.utils.data (where it is installed): the same sequences where
PyTorch's are deterministic, the same lengths, structure and distributions where they are
random (one seed does not give one stream across libraries), the same errors; lazy drawing."""

import itertools
import re
import tracemalloc

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_nv
from tinygrad_nv import Tensor
from tinygrad_nv.data import (
    BatchSampler,
    DataLoader,
    RandomSampler,
    SequentialSampler,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
    random_split,
)


@pytest.fixture(scope="module")
def tud():
    return pytest.importorskip("torch").utils.data


@given(n=st.integers(0, 30), batch_size=st.integers(1, 8), drop_last=st.booleans())
def test_sequential_and_batch_samplers_equal_torch(tud, n, batch_size, drop_last):
    ours = BatchSampler(SequentialSampler(range(n)), batch_size, drop_last)
    theirs = tud.BatchSampler(tud.SequentialSampler(range(n)), batch_size, drop_last)
    assert list(ours) == list(theirs) and len(ours) == len(theirs)
    assert list(SequentialSampler(range(n))) == list(tud.SequentialSampler(range(n)))


@pytest.mark.parametrize("n,num_samples", [(5, None), (5, 3), (5, 12), (4, 8), (1, 3)])
def test_random_sampler_without_replacement_is_permutation_after_permutation(tud, n,
                                                                             num_samples):
    ours = list(RandomSampler(range(n), num_samples=num_samples, seed=0))
    theirs = list(tud.RandomSampler(range(n), num_samples=num_samples))
    assert len(ours) == len(theirs) == len(RandomSampler(range(n), num_samples=num_samples))
    for sequence in ours, theirs:  # whole permutations, then the first draws of one more
        blocks = [sequence[i:i + n] for i in range(0, len(sequence), n)]
        assert all(sorted(b) == list(range(n)) for b in blocks[:len(sequence) // n])
        assert len(set(blocks[-1])) == len(blocks[-1])


def test_random_sampler_with_replacement_is_uniform(tud):
    ours = np.array(list(RandomSampler(range(5), replacement=True, num_samples=5000, seed=0)))
    theirs = np.array(list(tud.RandomSampler(range(5), replacement=True, num_samples=5000)))
    for drawn in ours, theirs:
        assert len(drawn) == 5000 and drawn.min() == 0 and drawn.max() == 4
        np.testing.assert_allclose(np.bincount(drawn) / 5000, 0.2, atol=0.03)


def test_random_samplers_reproducible_and_new_each_epoch():
    for make in (lambda **kw: RandomSampler(range(8), **kw),
                 lambda **kw: RandomSampler(range(8), replacement=True, **kw),
                 lambda **kw: SubsetRandomSampler(list(range(10, 18)), **kw),
                 lambda **kw: WeightedRandomSampler([1.0] * 8, 8, **kw)):
        sampler = make(seed=1)
        first, second = list(sampler), list(sampler)
        assert first != second
        assert list(make(seed=1)) == first
        assert list(make(generator=np.random.default_rng(1))) == first
        Tensor.manual_seed(2)
        unseeded = list(make())
        Tensor.manual_seed(2)
        assert list(make()) == unseeded


def test_tinygrad_generator_is_read_when_drawing():
    g = tinygrad_nv.Generator()
    sampler = RandomSampler(range(8), generator=g)
    loader = DataLoader(TensorDataset(np.arange(8)), batch_size=8, shuffle=True, generator=g)
    g.manual_seed(1)  # after construction: takes effect, as in PyTorch
    first = list(sampler)
    assert first == list(RandomSampler(range(8), seed=1))
    g.manual_seed(1)
    assert list(sampler) == first
    g.manual_seed(2)
    batch = next(iter(loader))[0].tolist()
    g.manual_seed(2)
    assert next(iter(loader))[0].tolist() == batch and sorted(batch) == list(range(8))
    parts = [p.indices for p in random_split(range(6), [3, 3], generator=g.manual_seed(0))]
    assert parts == [p.indices for p in random_split(range(6), [3, 3], seed=0)]


def test_subset_random_sampler_permutes_its_indices(tud):
    indices = [10, 3, 7, 7, 42]
    ours, theirs = SubsetRandomSampler(indices, seed=0), tud.SubsetRandomSampler(indices)
    assert sorted(ours) == sorted(theirs) == sorted(indices)
    assert len(ours) == len(theirs) == 5


def test_weighted_random_sampler_follows_its_weights(tud):
    weights = [0.1, 0.0, 0.4, 0.5]
    ours = np.array(list(WeightedRandomSampler(weights, 20000, seed=0)))
    theirs = np.array(list(tud.WeightedRandomSampler(weights, 20000)))
    for drawn in ours, theirs:
        np.testing.assert_allclose(np.bincount(drawn, minlength=4) / 20000, weights, atol=0.02)
    tail = [0.0, 1.0, 0.0, 2.0, 0.5]  # without replacement: each once, zero weights last
    for sampler in (WeightedRandomSampler(tail, 5, replacement=False, seed=0),
                    tud.WeightedRandomSampler(tail, 5, replacement=False)):
        drawn = list(sampler)
        assert sorted(drawn) == [0, 1, 2, 3, 4] and set(drawn[3:]) == {0, 2}
    assert len(WeightedRandomSampler(tail, 3)) == len(tud.WeightedRandomSampler(tail, 3)) == 3
    first = [next(iter(WeightedRandomSampler([1, 3], 1, False, seed=s))) for s in range(400)]
    assert 0.65 < np.mean(first) < 0.85  # P(first is 1) = 3/4


def test_random_sampler_draws_lazily_in_constant_memory():
    huge = int(1e10)
    tracemalloc.start()
    try:
        for replacement in (True, False):
            sampler = RandomSampler(range(10), replacement=replacement, num_samples=huge,
                                    seed=0)
            assert len(sampler) == huge
            head = list(itertools.islice(sampler, 1000))
            assert len(head) == 1000 and set(head) == set(range(10))
        loader = DataLoader(TensorDataset(np.arange(10)), batch_size=4,
                            sampler=RandomSampler(range(10), True, huge, seed=0))
        assert len(loader) == huge // 4 and next(iter(loader))[0].shape == (4,)
        assert tracemalloc.get_traced_memory()[1] < 1 << 20  # peak under 1 MiB
    finally:
        tracemalloc.stop()


def errors(make):
    """The type and message of what make() or iterating its result raises."""
    try:
        list(make())
    except Exception as e:  # noqa: BLE001 (compared with torch's)
        return type(e), str(e)
    return None, ""


BAD = [
    (lambda d: d.RandomSampler(range(3), replacement=1), "replacement should be a boolean"),
    (lambda d: d.RandomSampler(range(3), num_samples=0), "num_samples=0"),
    (lambda d: d.RandomSampler(range(3), num_samples=-2), "num_samples=-2"),
    (lambda d: d.RandomSampler(range(0)), "num_samples=0"),
    (lambda d: d.WeightedRandomSampler([1.0], 0), "num_samples should be a positive"),
    (lambda d: d.WeightedRandomSampler([1.0], 1, replacement=None), "replacement should be"),
    (lambda d: d.WeightedRandomSampler([[1.0, 2.0]], 1), r"1d sequence .* shape \(1, 2\)"),
    (lambda d: d.WeightedRandomSampler([1.0, -1.0], 1), "element < 0"),
    (lambda d: d.WeightedRandomSampler([1.0, float("nan")], 1), "`nan`"),
    (lambda d: d.WeightedRandomSampler([0.0, 0.0], 1), "sum of probabilities <= 0"),
    (lambda d: d.WeightedRandomSampler([1.0, 1.0], 3, False), "n_sample > prob_dist"),
    (lambda d: d.BatchSampler(range(3), 0, False), "batch_size=0"),
    (lambda d: d.BatchSampler(range(3), True, False), "batch_size=True"),
    (lambda d: d.BatchSampler(range(3), 2, drop_last=None), "drop_last should be"),
]


@pytest.mark.parametrize("make,pattern", BAD, ids=[f"bad{i}" for i in range(len(BAD))])
def test_errors_match_torch(make, pattern):
    import tinygrad_nv.data as ours

    kind, message = errors(lambda: make(ours))
    assert kind is not None, "no error"
    assert re.search(pattern, message), message
    torch = pytest.importorskip("torch")
    assert kind is errors(lambda: make(torch.utils.data))[0]
