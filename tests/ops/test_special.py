"""erfinv, lgamma and digamma: accuracy over wide ranges against math.lgamma, mpmath and
torch (float64 and float32, poles and infinities), gradients (gradcheck in float64, erfinv's
second derivative, against torch), dtypes, and lgamma's second derivative."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as hst

import tinygrad_nv
from tests.helpers import check_op
from tinygrad_nv import Tensor
from tinygrad_nv.testing import gradcheck

INF, NAN = float("inf"), float("nan")


def _lgamma_ref(v: float) -> float:
    return INF if v <= 0 and v == math.floor(v) else math.lgamma(v)


def _wide(rng) -> np.ndarray:
    """Arguments from 1e-300 to 1e300 in size, both signs, near the poles and integers."""
    return np.concatenate([
        rng.uniform(-60, 60, 4000), rng.uniform(-3, 3, 4000), np.logspace(-300, 300, 600),
        -np.logspace(-12, 14, 600), -np.arange(1, 40) + 1e-9, -np.arange(1, 40) - 1e-7,
        np.arange(1, 40.0), [0.5, 1.0, 2.0, 1.4616321449683622]])


def test_lgamma_against_math(device):
    x = _wide(np.random.default_rng(0))
    got = Tensor(x, device=device).lgamma().numpy()
    want = np.array([_lgamma_ref(v) for v in x])
    np.testing.assert_array_equal(np.isinf(got), np.isinf(want))
    finite = np.isfinite(want)
    np.testing.assert_allclose(got[finite], want[finite], rtol=1e-13, atol=1e-13)


def test_digamma_against_mpmath(device):
    mpmath = pytest.importorskip("mpmath")
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.uniform(-30, 30, 400), np.logspace(-8, 200, 100),
                        -np.logspace(-8, 10, 100) + 0.37, [1.4616321449683622]])
    got = Tensor(x, device=device).digamma().numpy()
    want = np.array([float(mpmath.digamma(mpmath.mpf(v))) for v in x])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def test_erfinv_round_trip_and_tails(device):
    rng = np.random.default_rng(2)
    x = np.concatenate([rng.uniform(-1, 1, 5000), 1 - np.logspace(-16, -1, 300),
                        np.logspace(-300, -1, 300)])
    x = np.concatenate([x, -x])
    got = Tensor(x, device=device).erfinv()
    small = np.abs(x) < 0.5
    np.testing.assert_allclose(got.erf().numpy()[small], x[small], rtol=1e-15, atol=1e-300)
    far = ~small  # 1 - |x| is exact there: compare erfc of |y| with it
    np.testing.assert_allclose(got.abs().erfc().numpy()[far], 1 - np.abs(x[far]), rtol=1e-13)


@given(data=hst.data())
def test_gradients(data, device):
    rng = np.random.default_rng(data.draw(hst.integers(0, 99)))
    shape = tuple(data.draw(hst.lists(hst.integers(1, 3), max_size=2)))
    p = Tensor(rng.uniform(-0.95, 0.95, shape), device=device, requires_grad=True)
    check_op(lambda t: t.erfinv(), lambda a: _erfinv_numpy(a), p)
    positive = Tensor(rng.uniform(0.2, 20, shape), device=device, requires_grad=True)
    check_op(lambda t: t.lgamma(), np.vectorize(math.lgamma), positive, gradgrad=False)
    negative = Tensor(rng.uniform(-4.9, -4.1, shape), device=device, requires_grad=True)
    gradcheck(lambda t: tinygrad_nv.lgamma(t), (negative,))


def _erfinv_numpy(a: np.ndarray) -> np.ndarray:
    """Bisection of math.erf: slow and exact to float64, the reference for small shapes."""
    low, high = np.full(a.shape, -6.0), np.full(a.shape, 6.0)
    erf = np.vectorize(math.erf)
    for _ in range(80):
        mid = (low + high) / 2
        below = erf(mid) < a
        low, high = np.where(below, mid, low), np.where(below, high, mid)
    return (low + high) / 2


def test_lgamma_second_derivative_is_trigamma():
    """digamma's derivative is polygamma(1) (tests/ops/test_polygamma.py tests it further)."""
    x = Tensor([1.5, -0.4], dtype="float64", requires_grad=True)
    g, = tinygrad_nv.grad(x.lgamma().sum(), x, create_graph=True)
    gg, = tinygrad_nv.grad(g.sum(), x)
    np.testing.assert_allclose(gg.numpy(), tinygrad_nv.polygamma(1, x).numpy())


torch = pytest.importorskip("torch")


@pytest.mark.parametrize("name", ["erfinv", "lgamma", "digamma"])
@pytest.mark.parametrize("dtype", ["float64", "float32", "float16", "int64", "bool"])
def test_values_and_dtypes_as_torch(name, dtype):
    rng = np.random.default_rng(3)
    if name == "erfinv":
        x = np.concatenate([rng.uniform(-1, 1, 2000), [-1.0, 1.0, 1.5, -2.0, 0.0, -0.0, NAN]])
    else:
        x = np.concatenate([_wide(rng)[::7], [0.0, -0.0, -1.0, -2.0, INF, -INF, NAN]])
    with np.errstate(all="ignore"):  # casts of inf and NaN, and the poles
        x = np.clip(x, -1e4, 1e4).astype(dtype) if dtype != "bool" else x > 0
        ours = getattr(Tensor(x), name)().numpy()
        theirs = getattr(torch, name)(torch.tensor(x)).numpy()
        # torch reduces pi * x without care near poles; mpmath above checks ours there
        near_pole = np.abs(x.astype(np.float64) - np.round(x.astype(np.float64))) < 1e-3
    assert ours.dtype == theirs.dtype
    wide = ours.astype(np.float64), theirs.astype(np.float64)
    np.testing.assert_array_equal(np.isnan(wide[0]), np.isnan(wide[1]))
    np.testing.assert_array_equal(np.isposinf(wide[0]), np.isposinf(wide[1]))
    finite = np.isfinite(wide[1]) & ~(near_pole if name == "digamma" else False)
    rtol = {"float64": 1e-9, "float32": 2e-6, "float16": 1e-3}.get(dtype, 2e-6)
    np.testing.assert_allclose(wide[0][finite], wide[1][finite], rtol=rtol, atol=rtol)


def test_gradients_as_torch():
    x = np.array([-0.99, -0.3, 0.0, 0.5, 0.999])
    y = np.array([0.1, 0.5, 1.0, 3.7, -2.5, 40.0])
    for name, a in (("erfinv", x), ("lgamma", y)):
        ours, theirs = Tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
        getattr(ours, name)().sum().backward()
        getattr(torch, name)(theirs).sum().backward()
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-12)
