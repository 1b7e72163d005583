"""Reductions with drawn axes (None, negative, tuples) and keepdim."""

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as hst

from tests.helpers import check_op
from tinygrad_nv import Tensor, dtypes
from tinygrad_nv.testing import strategies as st


def _np_axis(axis):
    return tuple(axis) if isinstance(axis, (list, tuple)) else axis


REDUCTIONS = {
    "sum": (lambda x, a, k: x.sum(a, keepdim=k), lambda x, a, k: x.sum(a, keepdims=k)),
    "mean": (lambda x, a, k: x.mean(axis=a, keepdim=k), lambda x, a, k: x.mean(a, keepdims=k)),
    "max": (lambda x, a, k: x.max(a, keepdim=k), lambda x, a, k: x.max(a, keepdims=k)),
    "min": (lambda x, a, k: x.min(dim=a, keepdim=k), lambda x, a, k: x.min(a, keepdims=k)),
    "prod": (lambda x, a, k: x.prod(a, keepdim=k), lambda x, a, k: x.prod(a, keepdims=k)),
    "logsumexp": (lambda x, a, k: x.logsumexp(a, keepdim=k),
                  lambda x, a, k: np.log(np.exp(x).sum(a, keepdims=k))),
    "var": (lambda x, a, k: x.var(a, keepdim=k),
            lambda x, a, k: x.var(a, keepdims=k, ddof=1)),
    "std": (lambda x, a, k: x.std(a, keepdim=k),
            lambda x, a, k: x.std(a, keepdims=k, ddof=1)),
}


@pytest.mark.parametrize("name", list(REDUCTIONS))
@given(data=hst.data())
def test_reduction(name, data, device):
    fn, ref = REDUCTIONS[name]
    unbiased = name in ("var", "std")  # n - 1 > 0: at least 2 elements reduced
    x = data.draw(st.tensors(shape=st.shapes(min_dims=int(unbiased), max_dims=3,
                                             min_side=1 + unbiased, max_side=3), device=device))
    axis = _np_axis(data.draw(st.axes(x.ndim)))
    keepdim = data.draw(hst.booleans())
    if name == "std":  # sqrt near 0 variance: finite differences are ill-conditioned there
        assume(np.all(x.numpy().var(axis=axis) > 1e-2))
    check_op(lambda t: fn(t, axis, keepdim), lambda a: ref(a, _np_axis(axis), keepdim), x)


def test_var_correction(device):
    a = np.arange(6.0).reshape(2, 3)
    x = Tensor(a, device=device)
    np.testing.assert_allclose(x.var(1, correction=0).numpy(), a.var(1))
    np.testing.assert_allclose(x.std().numpy(), a.std(ddof=1))


def test_prod_gradient_with_zeros(device):
    x = Tensor([[2.0, 0.0, 3.0], [0.0, 0.0, 1.0]], device=device, requires_grad=True)
    x.prod(axis=1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[0.0, 6.0, 0.0], [0.0, 0.0, 0.0]])


@pytest.mark.parametrize("op", ["max", "min"])
def test_max_min_ties_share_the_gradient(op, device):
    x = Tensor([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]], device=device, requires_grad=True)
    getattr(x if op == "max" else -x, op)(axis=1).sum().backward()
    expected = [[0.0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]]
    np.testing.assert_allclose(np.abs(x.grad.numpy()), expected)


def test_logsumexp_is_stable(device):
    x = Tensor([[1000.0, 1000.0], [-1000.0, -1000.0]], device=device)
    np.testing.assert_allclose(x.logsumexp(1).numpy(), [1000 + np.log(2), -1000 + np.log(2)])


@pytest.mark.parametrize("op", ["argmax", "argmin"])
def test_argmax_argmin(op, device):
    a = np.random.default_rng(0).standard_normal((3, 4, 5))
    x = Tensor(a, device=device)
    for axis in (None, 0, -1, 1):
        got = getattr(x, op)(axis)
        assert got.dtype == dtypes.int64 and not got.requires_grad
        np.testing.assert_array_equal(got.numpy(), getattr(a, op)(axis))
    np.testing.assert_array_equal(getattr(x, op)(dim=1, keepdim=True).numpy(),
                                  getattr(a, op)(1, keepdims=True))


def test_sum_of_integers_and_bools(device):
    assert Tensor([True, True, False], device=device).sum().item() == 2
    assert Tensor([1, 2, 3], device=device).sum().item() == 6
    assert Tensor([1, 2], device=device).mean().item() == 1.5
