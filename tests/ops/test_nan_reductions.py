"""nansum, nanmean and aminmax against NumPy (hypothesis-drawn shapes and axes with NaNs
sprinkled in, gradcheck in float64) and torch (values, gradients, dtypes, named tuples)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as hst

import tinygrad_nv
from tests.helpers import check_op
from tinygrad_nv import Tensor
from tinygrad_nv.testing import strategies as tst


@given(data=hst.data())
def test_nansum_nanmean_against_numpy(data, device):
    shape = data.draw(tst.shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    axis = data.draw(hst.sampled_from([None, *range(-len(shape), len(shape))]))
    keepdim = data.draw(hst.booleans())
    rng = np.random.default_rng(data.draw(hst.integers(0, 99)))
    a = rng.normal(size=shape)
    a[rng.random(shape) < 0.3] = np.nan
    x = Tensor(a, device=device, requires_grad=True)
    check_op(lambda t: t.nansum(axis, keepdim), lambda v: np.nansum(v, axis, keepdims=keepdim),
             x, gradgrad=False)
    has_value = ~np.isnan(a).all(axis=axis)
    if np.all(has_value):  # a slice of NaNs only has no finite differences
        check_op(lambda t: tinygrad_nv.nanmean(t, dim=axis, keepdim=keepdim),
                 lambda v: np.nanmean(v, axis, keepdims=keepdim), x, gradgrad=False)


@given(data=hst.data())
def test_aminmax_against_numpy(data, device):
    shape = data.draw(tst.shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    dim = data.draw(hst.sampled_from([None, *range(-len(shape), len(shape))]))
    x = Tensor(np.random.default_rng(data.draw(hst.integers(0, 99))).permutation(
        np.prod(shape)).reshape(shape).astype(np.float64), device=device, requires_grad=True)
    check_op(lambda t: t.aminmax(dim=dim).min, lambda v: np.min(v, dim), x, gradgrad=False)
    check_op(lambda t: t.aminmax(dim=dim).max, lambda v: np.max(v, dim), x, gradgrad=False)


torch = pytest.importorskip("torch")


def test_as_torch():
    a = np.array([[1.0, np.nan, 3.0], [np.nan, np.nan, 2.0]])
    x, tx = Tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    for kwargs in ({}, {"dim": 1}, {"dim": 0, "keepdim": True}):
        for name in ("nansum", "nanmean"):
            out, tout = getattr(x, name)(**kwargs), getattr(tx, name)(**kwargs)
            np.testing.assert_allclose(out.numpy(), tout.detach().numpy())
            x.grad = tx.grad = None
            out.sum().backward(), tout.sum().backward()
            # a slice of NaNs only: torch's nanmean gradient there is NaN (0 / 0), ours 0
            np.testing.assert_allclose(x.grad.numpy(), np.nan_to_num(tx.grad.numpy()))
    pair, tpair = x.aminmax(dim=1, keepdim=True), tx.aminmax(dim=1, keepdim=True)
    assert type(pair).__name__ == "aminmax" and pair._fields == ("min", "max")
    np.testing.assert_array_equal(pair.max.numpy(), tpair.max.detach().numpy())
    np.testing.assert_array_equal(pair.min.numpy(), tpair.min.detach().numpy())
    for dtype in ("int64", "int32", "bool", "float32"):
        ours, theirs = Tensor(np.ones(3, dtype=dtype)), torch.ones(3, dtype=getattr(torch, dtype))
        assert str(ours.nansum().dtype) == str(theirs.nansum().dtype).split(".")[1]
        assert str(ours.aminmax().max.dtype) == str(theirs.aminmax().max.dtype).split(".")[1]
    assert tinygrad_nv.nansum(Tensor([1, 2]), dtype="float64").dtype == np.float64
    assert np.isnan(Tensor([np.nan]).nanmean().item())


def test_bad_inputs():
    with pytest.raises(TypeError, match="nanmean: expects a floating input"):
        Tensor([1, 2]).nanmean()
    with pytest.raises(TypeError, match="aminmax: dim must be an int"):
        Tensor([1.0]).aminmax(dim=(0,))
    with pytest.raises(IndexError):
        Tensor([1.0]).nansum(dim=3)
