"""CosineSimilarity, PairwiseDistance, Bilinear (and F.*) against NumPy formulas, gradcheck
and gradgradcheck, broadcasting, initialisation, errors; PyTorch where installed."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_nv.nn as nn
import tinygrad_nv.nn.functional as F
from tinygrad_nv import Tensor
from tinygrad_nv.dtype import dtypes
from tinygrad_nv.ops._checks import ShapeError

from ..helpers import check_op


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def cosine_reference(a, b, dim=1, eps=1e-8):
    na = np.maximum(np.sqrt((a * a).sum(dim, keepdims=True)), eps)
    nb = np.maximum(np.sqrt((b * b).sum(dim, keepdims=True)), eps)
    return (a / na * (b / nb)).sum(dim)


@pytest.mark.parametrize("shapes,dim", [(((4, 3), (4, 3)), 1), (((2, 3, 4), (1, 3, 4)), -1),
                                        (((5,), (5,)), 0), (((2, 3, 4), (3, 1)), 0)])
def test_cosine_similarity(shapes, dim, device):
    a, b = (Tensor(rand(*s, seed=i), device=device) for i, s in enumerate(shapes))
    check_op(lambda x, y: F.cosine_similarity(x, y, dim), lambda x, y: cosine_reference(
        x, y, dim), a, b)


def test_cosine_similarity_clamps_small_norms_in_value_only():
    a = Tensor([[1e-9, 0.0]], requires_grad=True)
    out = nn.CosineSimilarity(eps=1e-6)(a, Tensor([[1.0, 0.0]]))
    np.testing.assert_allclose(out.numpy(), [1e-3], rtol=1e-6)  # 1e-9 / max(1e-9, 1e-6)
    out.backward()
    # PyTorch clamps under no_grad: the norm's gradient flows as if unclamped,
    # 1 / eps - a0 / eps^2 * d||a|| / da0 = 1e6 - 1e3
    np.testing.assert_allclose(a.grad.numpy(), [[999000.0, 0.0]], rtol=1e-5)


@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, np.inf])
@pytest.mark.parametrize("keepdim", [False, True])
def test_pairwise_distance(p, keepdim, device):
    a, b = Tensor(rand(4, 3), device=device), Tensor(rand(1, 3, seed=1), device=device)

    def reference(x, y):
        diff = np.abs(x - y + 1e-6)
        out = diff.max(-1, keepdims=keepdim) if np.isinf(p) else \
            (diff ** p).sum(-1, keepdims=keepdim) ** (1 / p)
        return out
    check_op(lambda x, y: nn.PairwiseDistance(p, keepdim=keepdim)(x, y), reference, a, b,
             gradgrad=not np.isinf(p))
    assert F.pairwise_distance(Tensor(rand(3)), Tensor(rand(3))).shape == ()


def test_bilinear(device):
    x1, x2 = Tensor(rand(2, 1, 4), device=device), Tensor(rand(2, 1, 5, seed=1), device=device)
    w, b = Tensor(rand(6, 4, 5, seed=2), device=device), Tensor(rand(6, seed=3), device=device)
    check_op(F.bilinear, lambda a, c, d, e: np.einsum("...i,kij,...j->...k", a, d, c) + e,
             x1, x2, w, b)
    layer = nn.Bilinear(4, 5, 6, device=device, dtype=dtypes.float64)
    assert layer.weight.shape == (6, 4, 5) and layer.bias.shape == (6,)
    assert np.abs(layer.weight.numpy()).max() <= 0.5 and np.abs(layer.bias.numpy()).max() <= 0.5
    assert layer(x1, x2).shape == (2, 1, 6)
    assert nn.Bilinear(4, 5, 6, bias=False).bias is None


@given(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), st.integers(0, 2))
def test_cosine_similarity_is_within_one(shape, dim):
    dim = dim % len(shape)
    a, b = rand(*shape), rand(*shape, seed=1)
    out = F.cosine_similarity(Tensor(a), Tensor(b), dim).numpy()
    np.testing.assert_allclose(out, cosine_reference(a, b, dim), rtol=1e-10, atol=1e-12)
    assert (np.abs(out) <= 1 + 1e-12).all()


def test_bad_input():
    with pytest.raises(ShapeError, match=r"cosine_similarity: the shapes of x1 \(2, 3\) and x2 "
                                         r"\(2, 4\) do not broadcast"):
        F.cosine_similarity(Tensor.ones(2, 3), Tensor.ones(2, 4))
    np.testing.assert_array_equal(F.cosine_similarity(Tensor(rand(2, 3)), Tensor(rand(2, 3)),
                                                      axis=0).numpy(),
                                  F.cosine_similarity(Tensor(rand(2, 3)), Tensor(rand(2, 3)),
                                                      dim=0).numpy())
    with pytest.raises(IndexError, match="cosine_similarity: dim 2 is out of range"):
        F.cosine_similarity(Tensor.ones(2, 3), Tensor.ones(2, 3), dim=2)
    with pytest.raises(ShapeError, match="bilinear: inputs"):
        F.bilinear(Tensor.ones(2, 3), Tensor.ones(2, 4), Tensor.ones(5, 3, 3))
    with pytest.raises(ShapeError, match="same leading dimensions"):
        F.bilinear(Tensor.ones(2, 3), Tensor.ones(3, 3), Tensor.ones(5, 3, 3))
    with pytest.raises(ShapeError, match=r"bias must have shape \(5,\)"):
        F.bilinear(Tensor.ones(2, 3), Tensor.ones(2, 3), Tensor.ones(5, 3, 3), Tensor.ones(4))
    with pytest.raises(ValueError, match="Bilinear: in2_features must be a positive int"):
        nn.Bilinear(2, 0, 3)


@pytest.mark.parametrize("make,shapes", [
    (lambda m, **f: m.Bilinear(3, 4, 2, **f), ((5, 3), (5, 4))),
    (lambda m, **f: m.Bilinear(3, 4, 2, bias=False, **f), ((2, 5, 3), (2, 5, 4))),
    (lambda m, **f: m.CosineSimilarity(dim=-1), ((5, 3), (1, 3))),
    (lambda m, **f: m.PairwiseDistance(p=3.0, keepdim=True), ((5, 3), (5, 3))),
])
def test_against_torch(make, shapes):
    torch = pytest.importorskip("torch")
    from .torch_reference import compare_with_torch, load_from_torch
    ours, theirs = make(nn, dtype=dtypes.float64), make(torch.nn, dtype=torch.float64)
    load_from_torch(ours, theirs)
    compare_with_torch(ours, theirs, *(rand(*s, seed=i) for i, s in enumerate(shapes)))
    assert repr(ours) == repr(theirs)
