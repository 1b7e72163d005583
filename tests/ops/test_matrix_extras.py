"""addmm, baddbmm, trace, dist, diff, renorm, unique and bernoulli against NumPy formulas
(hypothesis-drawn shapes, gradcheck and gradgradcheck in float64) and torch (values,
gradients, dtypes, edge cases), with their errors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as hst

import tinygrad_nv
from tests.helpers import check_op
from tinygrad_nv import Tensor


def _t(rng, shape, device, low=-2.0, high=2.0):
    return Tensor(rng.uniform(low, high, shape), device=device, requires_grad=True)


@given(data=hst.data())
def test_addmm_baddbmm_trace_against_numpy(data, device):
    b, n, m, p = (data.draw(hst.integers(1, 4)) for _ in range(4))
    beta, alpha = data.draw(hst.sampled_from([1, 0.5])), data.draw(hst.sampled_from([1, -2.0]))
    rng = np.random.default_rng(data.draw(hst.integers(0, 99)))
    x_shape = data.draw(hst.sampled_from([(n, p), (p,), (1, p), ()]))
    x, m1, m2 = _t(rng, x_shape, device), _t(rng, (n, m), device), _t(rng, (m, p), device)
    check_op(lambda a, c, d: a.addmm(c, d, beta=beta, alpha=alpha),
             lambda a, c, d: beta * a + alpha * c @ d, x, m1, m2)
    y, b1, b2 = _t(rng, (b, n, p), device), _t(rng, (b, n, m), device), _t(rng, (b, m, p), device)
    check_op(lambda a, c, d: tinygrad_nv.baddbmm(a, c, d, beta=beta, alpha=alpha),
             lambda a, c, d: beta * a + alpha * c @ d, y, b1, b2)
    check_op(lambda a: a.trace(), np.trace, m1)


@given(data=hst.data())
def test_dist_diff_renorm_against_numpy(data, device):
    shape = tuple(data.draw(hst.lists(hst.integers(1, 4), min_size=2, max_size=3)))
    rng = np.random.default_rng(data.draw(hst.integers(0, 99)))
    x, y = _t(rng, shape, device), _t(rng, shape[1:], device)
    p = data.draw(hst.sampled_from([1, 2, 3.5]))
    check_op(lambda a, b: a.dist(b, p), lambda a, b: (np.abs(a - b) ** p).sum() ** (1 / p), x, y)
    dim = data.draw(hst.integers(-len(shape), len(shape) - 1))
    n = data.draw(hst.integers(0, 3))
    check_op(lambda a: a.diff(n, dim), lambda a: np.diff(a, n, axis=dim), x)
    pre = _t(rng, shape[:dim % len(shape)] + (2,) + shape[dim % len(shape) + 1:], device)
    check_op(lambda a, b: a.diff(n, dim, prepend=b, append=b),
             lambda a, b: np.diff(a, n, axis=dim, prepend=b, append=b), x, pre)
    maxnorm = data.draw(hst.sampled_from([0.5, 1.0, 100.0]))

    def renorm(a):
        axes = tuple(i for i in range(a.ndim) if i != dim % a.ndim)
        norms = (np.abs(a) ** p).sum(axis=axes, keepdims=True) ** (1 / p)
        return a * np.where(norms > maxnorm, maxnorm / (norms + 1e-7), 1.0)
    check_op(lambda a: a.renorm(p, dim, maxnorm), renorm, x)


@given(data=hst.data())
def test_unique_against_numpy(data, device):
    shape = tuple(data.draw(hst.lists(hst.integers(1, 4), min_size=1, max_size=3)))
    a = np.random.default_rng(data.draw(hst.integers(0, 99))).integers(0, 3, shape)
    dim = data.draw(hst.sampled_from([None, *range(len(shape))]))
    values, inverse, counts = Tensor(a, device=device).unique(
        return_inverse=True, return_counts=True, dim=dim)
    ref, ref_inverse, ref_counts = np.unique(a, return_inverse=True, return_counts=True,
                                             axis=dim)
    np.testing.assert_array_equal(values.numpy(), ref)
    np.testing.assert_array_equal(counts.numpy(), ref_counts)
    np.testing.assert_array_equal(inverse.numpy().reshape(-1), ref_inverse.reshape(-1))
    taken = np.take(values.numpy(), inverse.numpy(), axis=0 if dim is None else dim)
    np.testing.assert_array_equal(taken, a)


def test_bernoulli_draws(device):
    probs = Tensor(np.array([0.0, 1.0, 0.3] * 4000), device=device)
    out = probs.bernoulli()
    assert out.dtype == probs.dtype and not out.requires_grad
    values = out.numpy().reshape(-1, 3)
    assert set(np.unique(values)) <= {0.0, 1.0}
    assert values[:, 0].sum() == 0 and values[:, 1].sum() == 4000
    assert abs(values[:, 2].mean() - 0.3) < 0.03
    Tensor.manual_seed(3)
    first = tinygrad_nv.bernoulli(probs).numpy()
    Tensor.manual_seed(3)
    np.testing.assert_array_equal(first, tinygrad_nv.bernoulli(probs).numpy())
    g = tinygrad_nv.Generator(device=probs.device).manual_seed(5)
    assert Tensor.zeros(3, device=device).bernoulli(0.5, generator=g).shape == (3,)
    assert probs.bernoulli(1.0).numpy().min() == 1.0


torch = pytest.importorskip("torch")


def test_as_torch():
    rng = np.random.default_rng(0)
    arrays = [rng.normal(size=s) for s in ((3,), (2, 3, 4), (2, 4, 3), (2, 3))]
    ours = [Tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]

    def run(lib, x, b1, b2, m):
        out = lib.baddbmm(x, b1, b2, beta=0.5, alpha=2).sum(0)
        out = lib.addmm(x, out, out, alpha=0.3) + m.diff(2, dim=1, append=m).sum()
        out = out.renorm(2, 1, 1.5) + lib.trace(out[:, :3]) + lib.dist(m, x, 3)
        return out
    out, tout = run(tinygrad_nv, *ours), run(torch, *theirs)
    np.testing.assert_allclose(out.numpy(), tout.detach().numpy(), rtol=1e-10)
    out.sum().backward(), tout.sum().backward()
    for t, tt in zip(ours, theirs):
        np.testing.assert_allclose(t.grad.numpy(), tt.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_edges_and_dtypes_as_torch():
    nan = np.full((2, 2), np.nan)
    got = Tensor(nan).addmm(Tensor(np.eye(2)), Tensor(np.eye(2)), beta=0)
    np.testing.assert_array_equal(got.numpy(), np.eye(2))  # beta = 0 ignores NaN, as torch
    for dtype in ("int32", "int64", "float32", "bool"):
        a = np.ones((2, 3), dtype=dtype)
        if dtype != "bool":
            assert str(Tensor(a).trace().dtype) == str(torch.tensor(a).trace().dtype)[6:]
        assert str(Tensor(a).diff().dtype) == str(torch.tensor(a).diff().dtype)[6:]
    b = np.array([True, False, False, True])
    np.testing.assert_array_equal(Tensor(b).diff().numpy(), torch.tensor(b).diff().numpy())
    a = np.array([[3, 1], [1, 2]])
    for got, want in zip(Tensor(a).unique(return_inverse=True, return_counts=True),
                         torch.tensor(a).unique(return_inverse=True, return_counts=True)):
        np.testing.assert_array_equal(got.numpy(), want.numpy())
        assert got.dtype == np.int64
    for p in (0, float("inf"), -float("inf"), 1):
        np.testing.assert_allclose(Tensor(a * 1.0).dist(Tensor([1.0, 1.0]), p).numpy(),
                                   torch.dist(torch.tensor(a * 1.0), torch.ones(2), p).numpy())
    assert Tensor([1, 2, 3]).diff(5).shape == torch.tensor([1, 2, 3]).diff(5).shape == (0,)


BAD = [
    (lambda: Tensor.ones(2, 3).addmm(Tensor.ones(2), Tensor.ones(2, 3)), "mm"),
    (lambda: Tensor.ones(3, 3).addmm(Tensor.ones(2, 2), Tensor.ones(2, 2)), "addmm: input"),
    (lambda: Tensor.ones(2, 2, 2).baddbmm(Tensor.ones(2, 2), Tensor.ones(2, 2)), "bmm"),
    (lambda: Tensor.ones(2, 2, 2).trace(), "trace: expects a matrix"),
    (lambda: Tensor(1.0).diff(), "diff: expects input to be at least one-dimensional"),
    (lambda: Tensor([1.0]).diff(-1), "diff: order n"),
    (lambda: Tensor([1.0]).diff(prepend=Tensor.ones(1, 1)), "diff: prepend and append"),
    (lambda: Tensor([1.0]).renorm(2, 0, 1.0), "renorm: needs at least 2 dimensions"),
    (lambda: Tensor.ones(2, 2).renorm(-1, 0, 1.0), "renorm: p must be"),
    (lambda: Tensor.ones(2, 2).renorm(2, 0, -1.0), "renorm: maxnorm"),
    (lambda: Tensor.ones(2, 2).dist(2.0), "dist: other must be a Tensor"),
    (lambda: Tensor.ones(2, 2).dist(Tensor.ones(3)), "dist: the shapes"),
    (lambda: Tensor([2.0]).bernoulli(), "bernoulli: expects all probabilities"),
    (lambda: Tensor([1]).bernoulli(), "bernoulli: expects a floating tensor"),
    (lambda: Tensor([1.0]).unique(dim=2), "unique"),
]


@pytest.mark.parametrize("call, match", BAD, ids=[m for _, m in BAD])
def test_bad_inputs(call, match):
    with pytest.raises((RuntimeError, ValueError, TypeError, IndexError), match=match):
        call()
