"""set_num_threads / get_num_threads (the BLAS pool NumPy calls, through threadpoolctl) and the
inter-op pair: round trips, PyTorch's errors for bad counts, PyTorch's messages where it runs."""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_info

import tinygrad_nv as tg

BLAS = [pool for pool in threadpool_info() if pool["user_api"] == "blas"]


@pytest.fixture
def restore_threads():
    before = tg.get_num_threads(), tg.get_num_interop_threads()
    yield
    tg.set_num_threads(before[0])
    tg.set_num_interop_threads(before[1])


@pytest.mark.skipif(not BLAS, reason="NumPy has no BLAS thread pool here")
@pytest.mark.parametrize("n", [1, 2, np.int64(3)])
def test_set_then_get_and_blas_sees_it(n, restore_threads):
    tg.set_num_threads(n)
    assert tg.get_num_threads() == n
    assert {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"} \
        == {n}
    a = np.random.default_rng(0).standard_normal((64, 64)).astype(np.float32)
    np.testing.assert_allclose((tg.tensor(a) @ tg.tensor(a)).numpy(), a @ a, rtol=1e-5, atol=1e-5)


def test_interop_round_trip(restore_threads):
    tg.set_num_interop_threads(3)
    assert tg.get_num_interop_threads() == 3


@pytest.mark.parametrize("bad", [0, -2, 1.5, True, "2", None])
@pytest.mark.parametrize("name", ["set_num_threads", "set_num_interop_threads"])
def test_bad_counts_raise_as_pytorch(name, bad, restore_threads):
    with pytest.raises(RuntimeError, match=name) as ours:
        getattr(tg, name)(bad)
    torch = pytest.importorskip("torch")
    if name == "set_num_interop_threads":
        return  # PyTorch refuses any second call to it, whatever the count
    with pytest.raises(RuntimeError) as theirs:
        getattr(torch, name)(bad)
    assert str(ours.value).split(",")[0] == str(theirs.value).split(",")[0]
