"""IterableDataset, ConcatDataset, ChainDataset, StackDataset, default_convert and the
DataLoader's arguments, against torch.utils.data where it is installed (same samples, lengths,
batches and error types)."""

import re

import numpy as np
import pytest

import tinygrad_nv.data as ours
from tinygrad_nv import Tensor
from tinygrad_nv.data import (
    ChainDataset,
    ConcatDataset,
    DataLoader,
    IterableDataset,
    StackDataset,
    TensorDataset,
    default_convert,
)


def stream(library, n):
    """An IterableDataset of library yielding 0..n-1, with a length."""
    class Stream(library.IterableDataset):
        def __iter__(self):
            return iter(range(n))

        def __len__(self):
            return n
    return Stream()


def plain(batch):
    if isinstance(batch, Tensor) or type(batch).__module__.startswith("torch"):
        return batch.tolist()
    if isinstance(batch, dict):
        return {k: plain(v) for k, v in batch.items()}
    return [plain(b) for b in batch] if isinstance(batch, list | tuple) else batch


@pytest.fixture(scope="module")
def tud():
    return pytest.importorskip("torch").utils.data


def test_concat_dataset_indexes_across_parts_as_torch(tud):
    parts = [range(3), range(10, 15), range(0), range(20, 22)]
    mine, theirs = ConcatDataset(parts), tud.ConcatDataset(parts)
    assert len(mine) == len(theirs) == 10
    assert mine.cumulative_sizes == theirs.cumulative_sizes == [3, 8, 8, 10]
    every = range(-10, 10)
    assert [mine[i] for i in every] == [theirs[i] for i in every]
    joined = ours.Subset(range(3), [0, 1]) + ours.Subset(range(5, 9), [3])
    assert isinstance(joined, ConcatDataset) and [joined[i] for i in range(3)] == [0, 1, 8]
    assert plain(list(DataLoader(mine, batch_size=4))) == [[0, 1, 2, 10], [11, 12, 13, 14],
                                                            [20, 21]]


def test_chain_and_iterable_datasets_as_torch(tud):
    mine = ChainDataset([stream(ours, 3), stream(ours, 2)])
    theirs = tud.ChainDataset([stream(tud, 3), stream(tud, 2)])
    assert list(mine) == list(theirs) == [0, 1, 2, 0, 1] and len(mine) == len(theirs) == 5
    added = stream(ours, 2) + stream(ours, 1)
    assert isinstance(added, ChainDataset) and list(added) == [0, 1, 0]
    for batch_size, drop_last in [(2, False), (2, True), (None, False), (1, False)]:
        kwargs = dict(batch_size=batch_size, drop_last=drop_last)
        loader = DataLoader(mine, **kwargs)
        torch_loader = tud.DataLoader(theirs, **kwargs)
        assert plain(list(loader)) == plain(list(torch_loader))
        assert len(loader) == len(torch_loader)


def test_stack_dataset_as_torch(tud):
    a, b = np.arange(4), np.arange(4) * 10
    for args, kwargs in [((a, b), {}), ((), {"x": a, "y": b})]:
        mine, theirs = StackDataset(*args, **kwargs), tud.StackDataset(*args, **kwargs)
        assert len(mine) == len(theirs) == 4
        assert plain(mine[2]) == plain(theirs[2])
        assert plain(mine.__getitems__([3, 0])) == plain(theirs.__getitems__([3, 0]))
        assert plain(list(DataLoader(mine, batch_size=3))) == \
            plain(list(tud.DataLoader(theirs, batch_size=3)))
    pairs = StackDataset(TensorDataset(a), ours.Subset(b, [3, 2, 1, 0]))
    assert plain(pairs[0]) == [[0], 30]


def test_default_convert_as_torch(tud):
    sample = (1, (np.arange(2), "s"), [np.float32(2.5)], {"k": (np.ones(1, np.int32),)})
    mine, theirs = default_convert(sample), tud.default_convert(sample)
    assert plain(mine) == plain(theirs)
    assert type(mine) is type(theirs) is list and type(mine[1]) is type(theirs[1]) is list
    assert mine[3]["k"][0].dtype == "int32"
    assert plain(list(DataLoader([(np.arange(2), 1)], batch_size=None))) == [[[0, 1], 1]]


def make_errors(library):
    """Bad DataLoader and dataset arguments, written once for both libraries."""
    d = library
    data, it = list(range(4)), stream(library, 3)
    return [
        lambda: d.DataLoader(data, num_workers=-1),
        lambda: d.DataLoader(data, timeout=-1),
        lambda: d.DataLoader(data, prefetch_factor=2),
        lambda: d.DataLoader(data, persistent_workers=True),
        lambda: d.DataLoader(data, multiprocessing_context="spawn"),
        lambda: d.DataLoader(data, num_workers=1, multiprocessing_context="nope"),
        lambda: d.DataLoader(data, num_workers=1, multiprocessing_context=3),
        lambda: d.DataLoader(it, shuffle=True),
        lambda: d.DataLoader(it, sampler=[0]),
        lambda: d.DataLoader(it, batch_sampler=[[0]]),
        lambda: setattr(d.DataLoader(data), "batch_size", 2),
        lambda: d.ConcatDataset([]),
        lambda: d.ConcatDataset([it]),
        lambda: d.ConcatDataset([data])[-5],
        lambda: list(d.ChainDataset([data])),
        lambda: d.StackDataset(data, x=data),
        lambda: d.StackDataset(data, data[:2]),
        lambda: d.StackDataset(),
    ]


PATTERNS = [
    "num_workers option should be non-negative", "timeout option should be non-negative",
    "prefetch_factor option could only be specified in multiprocessing",
    "persistent_workers option needs num_workers > 0",
    "multiprocessing_context can only be used with multi-process loading",
    "should specify a valid start method", "should be a valid context object",
    "expected unspecified shuffle option", "expected unspecified sampler option",
    "expected unspecified batch_sampler option",
    "batch_size attribute should not be set after DataLoader is initialized",
    "datasets should not be an empty iterable", "does not support IterableDataset",
    "absolute value of index should not exceed dataset length",
    "ChainDataset only supports IterableDataset", "but both types are given",
    "ize mismatch between datasets", "t least one dataset should be passed",
]


def raised(fn):
    try:
        fn()
    except Exception as e:  # noqa: BLE001 (compared with torch's)
        return e
    return None


@pytest.mark.parametrize("case", range(len(PATTERNS)))
def test_bad_arguments_raise_as_torch(case):
    error = raised(make_errors(ours)[case])
    assert error is not None and re.search(PATTERNS[case], str(error)), error
    tud = pytest.importorskip("torch").utils.data
    assert type(error) is type(raised(make_errors(tud)[case]))


def test_iterable_dataset_len_warning_and_no_len():
    class NoLen(IterableDataset):
        def __iter__(self):
            return iter(range(5))

    loader = DataLoader(NoLen(), batch_size=2)
    assert plain(list(loader)) == [[0, 1], [2, 3], [4]]
    with pytest.raises(TypeError):
        len(loader)

    class Longer(IterableDataset):  # says 2, yields 4
        def __iter__(self):
            return iter(range(4))

        def __len__(self):
            return 2

    loader = DataLoader(Longer(), batch_size=None)
    assert len(loader) == 2
    with pytest.warns(UserWarning, match="reported to be 2 .* but [34] samples have been"):
        assert list(loader) == [0, 1, 2, 3]
