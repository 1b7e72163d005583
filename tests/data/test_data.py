"""tinygrad_nv.data: datasets, samplers, collation and the DataLoader against NumPy
indexing; PyTorch's semantics for lengths, drop_last, collation and bad input."""

from collections import namedtuple

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_nv import Tensor
from tinygrad_nv.data import (
    BatchSampler,
    DataLoader,
    Dataset,
    RandomSampler,
    SequentialSampler,
    Subset,
    TensorDataset,
    default_collate,
    random_split,
)

N = 10
X = np.arange(N * 3, dtype=np.float32).reshape(N, 3)
Y = np.arange(N) % 4


class NoItemAccess(TensorDataset):
    """A TensorDataset whose per-item access fails: batches must come from gather()."""

    def __getitem__(self, index):
        raise AssertionError("the loader indexed one item at a time")


def rows(loader):
    """The y values of every batch, as lists."""
    return [yb.numpy().tolist() for _, yb in loader]


@given(batch_size=st.integers(1, 12), drop_last=st.booleans())
def test_sequential_batches_match_numpy(batch_size, drop_last):
    loader = DataLoader(TensorDataset(X, Y), batch_size=batch_size, drop_last=drop_last)
    starts = range(0, N - batch_size + 1 if drop_last else N, batch_size)
    assert len(loader) == len(starts)
    batches = list(loader)
    assert len(batches) == len(starts)
    for (xb, yb), start in zip(batches, starts, strict=True):
        np.testing.assert_array_equal(xb.numpy(), X[start:start + batch_size])
        np.testing.assert_array_equal(yb.numpy(), Y[start:start + batch_size])
        assert xb.dtype == "float32" and yb.dtype == "int64"


def test_tensor_dataset_batches_are_one_gather_on_the_device(device):
    data = NoItemAccess(Tensor(X), Tensor(Y))
    loader = DataLoader(data, batch_size=4, shuffle=True, seed=1, device=device)
    seen = []
    for xb, yb in loader:
        assert str(xb.device) == device and str(yb.device) == device
        index = (xb.numpy()[:, 0] // 3).astype(int)  # X's first column is 3 * row
        np.testing.assert_array_equal(xb.numpy(), X[index])
        np.testing.assert_array_equal(yb.numpy(), Y[index])
        seen += index.tolist()
    assert sorted(seen) == list(range(N))


def test_shuffle_is_a_permutation_reproducible_and_new_each_epoch():
    loader = DataLoader(TensorDataset(X, np.arange(N)), batch_size=3, shuffle=True, seed=7)
    epoch1, epoch2 = sum(rows(loader), []), sum(rows(loader), [])
    assert sorted(epoch1) == sorted(epoch2) == list(range(N))
    assert epoch1 != epoch2
    again = DataLoader(TensorDataset(X, np.arange(N)), batch_size=3, shuffle=True, seed=7)
    assert sum(rows(again), []) == epoch1 and sum(rows(again), []) == epoch2
    generator = np.random.default_rng(7)
    from_generator = DataLoader(TensorDataset(X, np.arange(N)), batch_size=3, shuffle=True,
                                generator=generator)
    assert sum(rows(from_generator), []) == epoch1


def test_global_seed_makes_unseeded_shuffling_reproducible():
    def epoch():
        return sum(rows(DataLoader(TensorDataset(X, np.arange(N)), 4, shuffle=True)), [])
    Tensor.manual_seed(3)
    first = epoch()
    Tensor.manual_seed(3)
    assert epoch() == first and sorted(first) == list(range(N))


def test_drop_last_and_len():
    data = TensorDataset(X, Y)
    assert [len(b) for b in rows(DataLoader(data, batch_size=4))] == [4, 4, 2]
    assert [len(b) for b in rows(DataLoader(data, batch_size=4, drop_last=True))] == [4, 4]
    assert len(DataLoader(data, batch_size=4, drop_last=True)) == 2
    assert len(DataLoader(data)) == N


def test_default_collate_follows_torch():
    Point = namedtuple("Point", "x y")
    samples = [(1, 2.5, True, "a", {"v": np.array([i, i + 1], dtype=np.int32)}, Point(i, -i),
                Tensor([float(i)]))
               for i in range(3)]
    ints, floats, flags, names, mapping, point, tensors = default_collate(samples)
    assert ints.dtype == "int64" and ints.numpy().tolist() == [1, 1, 1]
    assert floats.dtype == "float64" and floats.numpy().tolist() == [2.5] * 3
    assert flags.dtype == "bool" and names == ["a", "a", "a"]
    assert mapping["v"].dtype == "int32"
    np.testing.assert_array_equal(mapping["v"].numpy(), [[0, 1], [1, 2], [2, 3]])
    assert isinstance(point, Point) and point.y.numpy().tolist() == [0, -1, -2]
    assert tensors.shape == (3, 1) and tensors.numpy()[:, 0].tolist() == [0.0, 1.0, 2.0]


class Squares(Dataset):
    def __len__(self):
        return 5

    def __getitem__(self, i):
        return {"x": np.full(2, i, dtype=np.float64), "y": i * i}


def test_map_dataset_custom_collate_and_no_batching(device):
    batches = list(DataLoader(Squares(), batch_size=2, device=device))
    assert [b["y"].numpy().tolist() for b in batches] == [[0, 1], [4, 9], [16]]
    assert str(batches[0]["x"].device) == device
    sums = list(DataLoader(Squares(), batch_size=2, collate_fn=lambda b: sum(s["y"] for s in b)))
    assert sums == [1, 13, 16]
    single = list(DataLoader(Squares(), batch_size=None))
    assert len(single) == 5 and single[2]["y"] == 4 and single[2]["x"].shape == (2,)


def test_samplers():
    assert list(SequentialSampler(range(4))) == [0, 1, 2, 3]
    assert list(BatchSampler(range(5), 2, drop_last=False)) == [[0, 1], [2, 3], [4]]
    assert len(BatchSampler(range(5), 2, drop_last=True)) == 2
    sampler = RandomSampler(range(6), seed=0)
    assert sorted(sampler) == list(range(6)) and len(sampler) == 6
    longer = list(RandomSampler(range(4), num_samples=10, seed=0))
    assert len(longer) == 10 and sorted(longer[:4]) == sorted(longer[4:8]) == [0, 1, 2, 3]
    drawn = list(RandomSampler(range(3), replacement=True, num_samples=50, seed=0))
    assert len(drawn) == 50 and set(drawn) == {0, 1, 2}
    loader = DataLoader(TensorDataset(X, np.arange(N)), batch_size=4,
                        sampler=SequentialSampler(range(5)))
    assert rows(loader) == [[0, 1, 2, 3], [4]]
    batches = DataLoader(TensorDataset(X, np.arange(N)), batch_sampler=[[9, 0], [5]])
    assert rows(batches) == [[9, 0], [5]] and len(batches) == 2


def test_subset_and_random_split():
    data = TensorDataset(X, np.arange(N))
    subset = Subset(data, [7, 2, 2])
    assert len(subset) == 3 and subset[0][1].item() == 7
    assert rows(DataLoader(subset, batch_size=3)) == [[7, 2, 2]]
    nested = Subset(Subset(NoItemAccess(X, np.arange(N)), [9, 8, 7]), [2, 0])
    assert rows(DataLoader(nested, batch_size=2)) == [[7, 9]]  # gathered through both
    squares = Subset(Squares(), [4, 1])  # no gather: item by item
    assert [b["y"].numpy().tolist() for b in DataLoader(squares, batch_size=2)] == [[16, 1]]
    parts = random_split(data, [0.5, 0.3, 0.2], seed=0)
    assert [len(p) for p in parts] == [5, 3, 2]
    assert sorted(sum((p.indices for p in parts), [])) == list(range(N))
    assert [p.indices for p in random_split(data, [5, 3, 2], seed=0)] == \
        [p.indices for p in parts]
    assert [len(p) for p in random_split(range(7), [0.5, 0.5], seed=0)] == [4, 3]
    with pytest.warns(UserWarning, match="split at index 1 is empty"):
        random_split(range(3), [0.9, 0.1], seed=0)


BAD = [
    (lambda: DataLoader(TensorDataset(X, Y), batch_size=0), ValueError,
     "batch_size should be a positive integer value, but got batch_size=0"),
    (lambda: DataLoader(TensorDataset(X, Y), batch_size=-2), ValueError, "batch_size=-2"),
    (lambda: TensorDataset(X, Y[:5]), ValueError,
     r"TensorDataset: size mismatch between tensors: first dimensions \[10, 5\]"),
    (lambda: TensorDataset(np.float32(1.0)), ValueError, "first \\(sample\\) dimension"),
    (lambda: DataLoader(TensorDataset(X[:0], Y[:0]), batch_size=4), ValueError,
     r"DataLoader: the dataset \(TensorDataset\) is empty"),
    (lambda: DataLoader(Subset(Squares(), []), shuffle=True), ValueError, "Subset\\) is empty"),
    (lambda: RandomSampler(range(0)), ValueError,
     "num_samples should be a positive integer value, but got num_samples=0"),
    (lambda: DataLoader(X, shuffle=True, sampler=range(3)), ValueError,
     "sampler option is mutually exclusive with shuffle"),
    (lambda: DataLoader(X, batch_size=2, batch_sampler=[[0]]), ValueError,
     "batch_sampler option is mutually exclusive"),
    (lambda: DataLoader(X, batch_size=None, drop_last=True), ValueError, "drop_last"),
    (lambda: DataLoader(X, shuffle=True, seed=1, generator=np.random.default_rng()),
     ValueError, "generator or seed, not both"),
    (lambda: DataLoader(X, shuffle=True, generator=3), TypeError,
     "generator must be a tinygrad_nv.Generator or a numpy.random.Generator"),
    (lambda: DataLoader(5), TypeError, "dataset must define __getitem__ and __len__"),
    (lambda: BatchSampler(range(3), 2, drop_last=None), ValueError, "drop_last should be"),
    (lambda: RandomSampler(range(3), replacement=1), TypeError,
     "replacement should be a boolean value"),
    (lambda: random_split(range(5), [2, 2]), ValueError, "sum to 4, not to the dataset's"),
    (lambda: random_split(range(5), [1.5, -0.5]), ValueError, "index 0 is not between 0 and 1"),
    (lambda: random_split(range(5), [6, -1]), ValueError, "lengths must be non-negative"),
    (lambda: default_collate([object()]), TypeError, "found object"),
    (lambda: default_collate([np.array(["a"])]), TypeError, "dtype <U1"),
    (lambda: default_collate([[1, 2], [1]]), RuntimeError, "should be of equal size"),
    (lambda: next(iter(Dataset())), NotImplementedError, "must define __getitem__"),
]


@pytest.mark.parametrize("fn,exc,pattern", BAD, ids=[f"bad{i}" for i in range(len(BAD))])
def test_bad_input_raises_clearly(fn, exc, pattern):
    with pytest.raises(exc, match=pattern):
        fn()
