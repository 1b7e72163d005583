"""tinygrad_nv.linalg (inv det slogdet solve cholesky norms cross) and tinygrad_nv.special
against NumPy / math-module formulas on hypothesis-drawn shapes, gradcheck and gradgradcheck
in float64, their errors, and torch where installed."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as hst

import tinygrad_nv as tg
import tinygrad_nv.linalg as linalg
import tinygrad_nv.special as special
from tests.helpers import check_op
from tinygrad_nv import Tensor
from tinygrad_nv.testing import gradcheck, gradgradcheck


def _matrices(rng, batch, n, device):
    a = rng.normal(size=batch + (n, n)) + 2 * n * np.eye(n)  # well conditioned
    return Tensor(a, device=device, requires_grad=True)


@given(data=hst.data())
def test_inv_det_slogdet_solve_against_numpy(data, device):
    batch = tuple(data.draw(hst.lists(hst.integers(1, 3), max_size=2)))
    n = data.draw(hst.integers(1, 4))
    rng = np.random.default_rng(data.draw(hst.integers(0, 99)))
    a = _matrices(rng, batch, n, device)
    check_op(linalg.inv, np.linalg.inv, a, atol=1e-10, rtol=1e-10)
    check_op(linalg.det, np.linalg.det, a, atol=1e-10, rtol=1e-10)
    check_op(lambda m: linalg.slogdet(m).logabsdet, lambda m: np.linalg.slogdet(m)[1], a,
             atol=1e-10, rtol=1e-10)
    np.testing.assert_array_equal(linalg.slogdet(a).sign.numpy(), np.sign(np.linalg.det(a.numpy())))
    k = data.draw(hst.integers(1, 3))
    b = Tensor(rng.normal(size=batch + (n, k)), device=device, requires_grad=True)
    check_op(linalg.solve, np.linalg.solve, a, b, atol=1e-10, rtol=1e-10)
    v = Tensor(rng.normal(size=(n,)), device=device, requires_grad=True)
    expected = np.linalg.solve(a.numpy(), np.broadcast_to(v.numpy(), batch + (n,))[..., None])
    np.testing.assert_allclose(linalg.solve(a, v).numpy(), expected[..., 0], rtol=1e-10)
    gradcheck(linalg.solve, [a, v])
    np.testing.assert_allclose(linalg.solve(a, b.mT, left=False).numpy(),
                               np.swapaxes(np.linalg.solve(np.swapaxes(a.numpy(), -1, -2),
                                                           b.numpy()), -1, -2), rtol=1e-10)
    assert tg.det is linalg.det and tg.inverse is linalg.inv


@given(data=hst.data())
def test_cholesky_against_numpy(data, device):
    n = data.draw(hst.integers(1, 4))
    rng = np.random.default_rng(data.draw(hst.integers(0, 99)))
    a = _matrices(rng, (2,), n, device)

    def spd(m):
        return m @ m.mT
    np.testing.assert_allclose(linalg.cholesky(spd(a)).numpy(),
                               np.linalg.cholesky(spd(a).numpy()), rtol=1e-10)
    np.testing.assert_allclose(linalg.cholesky(spd(a), upper=True).numpy(),
                               np.swapaxes(np.linalg.cholesky(spd(a).numpy()), -1, -2), rtol=1e-10)
    gradcheck(lambda m: linalg.cholesky(spd(m)), [a])
    gradgradcheck(lambda m: linalg.cholesky(spd(m)), [a])


@given(data=hst.data())
def test_norms_against_numpy(data, device):
    shape = tuple(data.draw(hst.lists(hst.integers(1, 4), min_size=2, max_size=3)))
    rng = np.random.default_rng(data.draw(hst.integers(0, 99)))
    x = Tensor(rng.uniform(0.5, 2, shape) * rng.choice([-1, 1], shape), device=device,
               requires_grad=True)
    a = x.numpy()
    for ord in ("fro", 1, -1, math.inf, -math.inf):
        np.testing.assert_allclose(linalg.matrix_norm(x, ord).numpy(),
                                   np.linalg.norm(a, ord, axis=(-2, -1)), rtol=1e-12)
    gradcheck(lambda t: linalg.matrix_norm(t, "fro"), [x])
    gradcheck(lambda t: linalg.matrix_norm(t, 1), [x])
    for ord in (1, 2, 3.5, math.inf):
        np.testing.assert_allclose(linalg.vector_norm(x, ord, dim=-1).numpy(),
                                   np.linalg.norm(a, ord, axis=-1), rtol=1e-12)
        gradcheck(lambda t, ord=ord: linalg.vector_norm(t, ord, dim=-1), [x])
    np.testing.assert_allclose(linalg.norm(x).numpy(), np.sqrt((a ** 2).sum()), rtol=1e-12)
    np.testing.assert_allclose(linalg.norm(x[0], 1).numpy(), np.linalg.norm(a[0], 1), rtol=1e-12)
    np.testing.assert_allclose(linalg.norm(x, 2, dim=0).numpy(), np.linalg.norm(a, 2, axis=0))
    np.testing.assert_allclose(linalg.vecdot(x, x).numpy(), (a * a).sum(-1), rtol=1e-12)
    np.testing.assert_array_equal(linalg.diagonal(x).numpy(), np.diagonal(a, 0, -2, -1))


@pytest.mark.parametrize("call,error,match", [
    (lambda: linalg.inv(Tensor([1.0, 2.0])), ValueError, r"linalg.inv: A must be batches of "
                                                         r"square matrices.*shape \(2,\)"),
    (lambda: linalg.det(Tensor.zeros(2, 3)), ValueError, "2 by 3 matrices"),
    (lambda: linalg.inv(Tensor([[1, 2], [3, 4]])), TypeError, "float32 or float64"),
    (lambda: linalg.inv(Tensor.zeros(2, 2, device="cpu")), linalg.LinAlgError, "linalg.inv"),
    (lambda: linalg.cholesky(-Tensor.eye(2, device="cpu")), RuntimeError, "linalg.cholesky"),
    (lambda: linalg.solve(Tensor.eye(2), Tensor.zeros(3, 1)), ValueError, "B needs 2 rows"),
    (lambda: linalg.solve(Tensor.eye(2).expand(2, 2, 2), Tensor.zeros(3, 2, 1)), ValueError,
     "do not broadcast"),
    (lambda: linalg.matrix_norm(Tensor.eye(2), "nuc"), NotImplementedError, "not implemented"),
    (lambda: linalg.norm(Tensor.zeros(2, 2, 2), 1), RuntimeError, "1-D or 2-D"),
    (lambda: linalg.cross(Tensor.zeros(2), Tensor.zeros(2)), ValueError, "3 elements"),
])
def test_linalg_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


_ERF = np.vectorize(math.erf)
_LGAMMA = np.vectorize(math.lgamma)


def _bessel(x, order):
    return np.vectorize(lambda v: sum((v / 2) ** (2 * k + order) /
                                      (math.factorial(k) * math.factorial(k + order))
                                      for k in range(60)))(x)


@pytest.mark.parametrize("fn,reference,low,high", [
    (special.expit, lambda x: 1 / (1 + np.exp(-x)), -4, 4),
    (special.logit, lambda p: np.log(p / (1 - p)), 0.05, 0.95),
    (special.ndtr, lambda x: 0.5 * (1 + _ERF(x / math.sqrt(2))), -4, 4),
    (special.ndtri, None, 0.05, 0.95),  # checked through ndtr(ndtri(p)) = p
    (special.log_ndtr, lambda x: np.log(0.5 * (1 + _ERF(x / math.sqrt(2)))), -3, 3),
    (special.sinc, lambda x: np.sinc(x), -3, 3),
    (special.entr, lambda x: -x * np.log(x), 0.1, 3),
    (special.i0, lambda x: _bessel(x, 0), -5, 5),
    (special.i1, lambda x: _bessel(x, 1), -5, 5),
    (special.gammaln, _LGAMMA, 0.5, 5),
    (special.erf, _ERF, -2, 2),
    (special.expm1, np.expm1, -2, 2),
    (special.exp2, np.exp2, -2, 2),
])
def test_special_against_formulas(fn, reference, low, high, device):
    x = Tensor(np.linspace(low, high, 7) + 1e-3, device=device, requires_grad=True)
    if reference is None:
        np.testing.assert_allclose(special.ndtr(fn(x)).numpy(), x.numpy(), rtol=1e-12)
        reference = special.ndtri
    else:
        np.testing.assert_allclose(fn(x).numpy(), reference(x.numpy()), rtol=1e-10, atol=1e-12)
    gradcheck(fn, [x])
    if fn not in (special.gammaln,):  # digamma has no derivative
        gradgradcheck(fn, [x])


def test_special_edge_values(device):
    def t(v):
        return Tensor(v, dtype=tg.float64, device=device)
    assert special.sinc(t([0.0])).item() == 1.0
    assert special.entr(t([0.0, -1.0, math.nan])).tolist()[:2] == [0.0, -math.inf]
    assert math.isnan(special.entr(t([math.nan])).item())
    assert special.xlog1py(t([0.0, 0.0, 2.0]), t([-1.0, 5.0, 1.0])).tolist() == \
        [0.0, 0.0, 2 * math.log(2)]
    assert math.isnan(special.xlog1py(t([0.0]), t([math.nan])).item())
    np.testing.assert_allclose(special.logit(t([0.0, 1.0]), eps=0.25).numpy(),
                               [math.log(1 / 3), math.log(3)], rtol=1e-15)
    assert special.ndtri(t([0.0, 1.0])).tolist() == [-math.inf, math.inf]
    assert special.psi is special.digamma and special.gammaln is special.lgamma
    x, y = Tensor([0.0, 0.5, 1.5], dtype=tg.float64, requires_grad=True), \
        Tensor([0.5, -0.5, 2.0], dtype=tg.float64, requires_grad=True)
    gradcheck(special.xlog1py, [x[1:], y[1:]])  # x == 0 is PyTorch's kink: gradient 0 there
    special.xlog1py(x, y).sum().backward()
    assert x.grad.tolist()[0] == 0.0 and y.grad.tolist()[0] == 0.0  # PyTorch's at x == 0


def test_linalg_special_against_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    a = rng.normal(size=(2, 3, 3)) + 3 * np.eye(3)
    b = rng.normal(size=(2, 3, 2))
    for ours, theirs, args in ((linalg.inv, torch.linalg.inv, (a,)),
                               (linalg.det, torch.linalg.det, (a,)),
                               (linalg.solve, torch.linalg.solve, (a, b)),
                               (lambda m: linalg.cholesky(m @ m.mT),
                                lambda m: torch.linalg.cholesky(m @ m.mT), (a,))):
        xs = [Tensor(v, requires_grad=True) for v in args]
        ts = [torch.tensor(v, requires_grad=True) for v in args]
        ours(*xs).sum().backward()
        theirs(*ts).sum().backward()
        np.testing.assert_allclose(ours(*xs).detach().numpy(), theirs(*ts).detach().numpy(),
                                   rtol=1e-10)
        for x, t in zip(xs, ts):
            np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-9, atol=1e-12)
    for ord in (None, "fro", 1, -1, math.inf, -math.inf):
        np.testing.assert_allclose(linalg.norm(Tensor(a[0]), ord).numpy(),
                                   torch.linalg.norm(torch.tensor(a[0]), ord).numpy())
    x = np.linspace(-3, 3, 11)
    for name in ("i0", "i1", "sinc", "ndtr", "ndtri", "log_ndtr", "entr", "expit", "logit",
                 "gammaln", "erfinv"):
        arg = (x + 3.5) / 7 if name in ("ndtri", "logit", "erfinv") else x
        np.testing.assert_allclose(getattr(special, name)(Tensor(arg)).numpy(),
                                   getattr(torch.special, name)(torch.tensor(arg)).numpy(),
                                   rtol=1e-10, atol=1e-14)
    y = np.array([-1.0, 0.0, 2.0, np.nan])
    np.testing.assert_allclose(special.xlog1py(Tensor([0.0, 1.0, 2.0, 0.0]), Tensor(y)).numpy(),
                               torch.special.xlog1py(torch.tensor([0.0, 1.0, 2.0, 0.0]),
                                                     torch.tensor(y)).numpy())
