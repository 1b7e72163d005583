"""cosine_embedding, margin_ranking, triplet_margin, multi_margin and multilabel_soft_margin
losses against NumPy formulas, every reduction, gradcheck and gradgradcheck, errors."""

import numpy as np
import pytest

import tinygrad_nv.nn.functional as F
from tinygrad_nv import Tensor
from tinygrad_nv.ops._checks import ShapeError

from ..helpers import check_op


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def reduce(loss, reduction):
    return {"none": loss, "sum": loss.sum(), "mean": loss.mean()}[reduction]


REDUCTIONS = ["none", "sum", "mean"]


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cosine_embedding_loss(reduction, device):
    a, b = Tensor(rand(5, 3), device=device), Tensor(rand(5, 3, seed=1), device=device)
    y = Tensor([1, -1, 1, -1, 0], device=device)

    def reference(x1, x2):
        cos = (x1 * x2).sum(1) / np.sqrt(((x1 * x1).sum(1) + 1e-12) * ((x2 * x2).sum(1) + 1e-12))
        loss = np.where(y.numpy() == 1, 1 - cos, 0) + \
            np.where(y.numpy() == -1, np.maximum(cos - 0.2, 0), 0)
        return reduce(loss, reduction)
    check_op(lambda x1, x2: F.cosine_embedding_loss(x1, x2, y, 0.2, reduction=reduction),
             reference, a, b)
    single = F.cosine_embedding_loss(a[0], b[0], Tensor(1, device=device), reduction="none")
    assert single.shape == ()


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_margin_ranking_loss(reduction, device):
    a, b = Tensor(rand(6), device=device), Tensor(rand(6, seed=1), device=device)
    y = np.array([1, -1, 1, 1, -1, -1.0])
    check_op(lambda x1, x2: F.margin_ranking_loss(x1, x2, Tensor(y, device=device), 0.3,
                                                  reduction=reduction),
             lambda x1, x2: reduce(np.maximum(0, -y * (x1 - x2) + 0.3), reduction), a, b,
             float32=False)  # a float64 target promotes, as in PyTorch


@pytest.mark.parametrize("swap,p", [(False, 2.0), (True, 2.0), (False, 1.0)])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_triplet_margin_loss(swap, p, reduction, device):
    a, pos, neg = (Tensor(rand(4, 3, seed=s), device=device) for s in range(3))

    def dist(x, y):
        return (np.abs(x - y + 1e-6) ** p).sum(-1) ** (1 / p)

    def reference(x, y, z):
        d_neg = np.minimum(dist(x, z), dist(y, z)) if swap else dist(x, z)
        return reduce(np.maximum(0, 0.5 + dist(x, y) - d_neg), reduction)
    check_op(lambda x, y, z: F.triplet_margin_loss(x, y, z, 0.5, p, swap=swap,
                                                   reduction=reduction), reference, a, pos, neg)


@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_multi_margin_loss(p, weighted, reduction, device):
    x = Tensor(rand(4, 5) * 0.5, device=device)
    y = np.array([0, 3, 4, 3])
    w = rand(5, seed=1) ** 2 if weighted else None

    def reference(scores):
        picked = scores[np.arange(4), y][:, None]
        hinge = np.maximum(0, 0.7 - picked + scores) ** p
        hinge[np.arange(4), y] = 0
        if weighted:
            hinge = hinge * w[y][:, None]
        return reduce(hinge.sum(1) / 5, reduction)
    weight = None if w is None else Tensor(w, device=device)
    check_op(lambda s: F.multi_margin_loss(s, Tensor(y, device=device), p, 0.7, weight,
                                           reduction=reduction), reference, x)
    assert F.multi_margin_loss(x[0], Tensor(2, device=device)).shape == ()  # unbatched


def test_multi_margin_loss_example():
    loss = F.multi_margin_loss(Tensor([[0.1, 0.2, 0.4, 0.8]]), Tensor([3]))
    np.testing.assert_allclose(loss.item(), 0.325, rtol=1e-6)  # PyTorch's documented value


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_multilabel_soft_margin_loss(weighted, reduction, device):
    x = Tensor(rand(4, 3), device=device)
    y = (rand(4, 3, seed=1) > 0).astype(np.float64)
    w = rand(3, seed=2) ** 2 if weighted else None

    def reference(s):
        logsig = -np.logaddexp(0, -s)
        loss = -(y * logsig + (1 - y) * -np.logaddexp(0, s))
        loss = loss if w is None else loss * w
        return reduce(loss.mean(1), reduction)
    check_op(lambda s: F.multilabel_soft_margin_loss(
        s, Tensor(y, device=device), None if w is None else Tensor(w, device=device),
        reduction=reduction), reference, x)


def test_legacy_size_average_and_reduce():
    a, b, y = Tensor(rand(4)), Tensor(rand(4, seed=1)), Tensor([1.0, -1, 1, -1])
    full = F.margin_ranking_loss(a, b, y, reduction="none").numpy()
    np.testing.assert_allclose(F.margin_ranking_loss(a, b, y, reduce=False).numpy(), full)
    np.testing.assert_allclose(F.margin_ranking_loss(a, b, y, size_average=False).item(),
                               full.sum())
    np.testing.assert_allclose(F.margin_ranking_loss(a, b, y, size_average=True).item(),
                               full.mean())


def test_bad_input():
    x = Tensor(rand(3, 4))
    with pytest.raises(ValueError, match="reduction must be one of"):
        F.margin_ranking_loss(x, x, x, reduction="avg")
    with pytest.raises(ShapeError, match="same number of dimensions"):
        F.margin_ranking_loss(x, x, Tensor.ones(3))
    with pytest.raises(ShapeError, match=r"cosine_embedding_loss: expected inputs \(N, D\)"):
        F.cosine_embedding_loss(x, x, Tensor.ones(3, 4))
    with pytest.raises(ValueError, match="triplet_margin_loss: margin must be greater than 0"):
        F.triplet_margin_loss(x, x, x, margin=0.0)
    with pytest.raises(ShapeError, match="anchor, positive and negative"):
        F.triplet_margin_loss(x, x, x[0])
    with pytest.raises(ValueError, match="only p == 1 and p == 2"):
        F.multi_margin_loss(x, Tensor([0, 1, 2]), p=3)
    with pytest.raises(IndexError, match="target 4 is out of bounds for 4 classes"):
        F.multi_margin_loss(x.to("cpu"), Tensor([0, 4, 2], device="cpu"))  # checked on the CPU
    with pytest.raises(TypeError, match="integer class indices"):
        F.multi_margin_loss(x, Tensor([0.0, 1.0, 2.0]))
    with pytest.raises(ShapeError, match=r"weight must be one-dimensional with 4"):
        F.multi_margin_loss(x, Tensor([0, 1, 2]), weight=Tensor.ones(3))
    with pytest.raises(ShapeError, match="multilabel_soft_margin_loss: target must have"):
        F.multilabel_soft_margin_loss(x, Tensor.ones(3, 3))


def test_out_of_range_target_gives_nan_off_the_cpu():
    loss = F.multi_margin_loss(Tensor(rand(2, 3), device="emu"), Tensor([0, 5], device="emu"),
                               reduction="none").numpy()
    assert np.isfinite(loss[0]) and np.isnan(loss[1])


def test_against_torch():
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    x1, x2, x3 = rand(4, 3), rand(4, 3, seed=1), rand(4, 3, seed=2)
    y = np.array([1, -1, -1, 1])
    t = torch.tensor
    cases = [
        (F.cosine_embedding_loss(Tensor(x1), Tensor(x2), Tensor(y), 0.1),
         tf.cosine_embedding_loss(t(x1), t(x2), t(y), 0.1)),
        (F.margin_ranking_loss(Tensor(x1[:, 0]), Tensor(x2[:, 0]), Tensor(y), 0.2),
         tf.margin_ranking_loss(t(x1[:, 0]), t(x2[:, 0]), t(y), 0.2)),
        (F.triplet_margin_loss(Tensor(x1), Tensor(x2), Tensor(x3), swap=True, p=3.0),
         tf.triplet_margin_loss(t(x1), t(x2), t(x3), swap=True, p=3.0)),
        (F.multi_margin_loss(Tensor(x1), Tensor([0, 2, 1, 2]), 2, 0.5, Tensor(x2[0] ** 2)),
         tf.multi_margin_loss(t(x1), t([0, 2, 1, 2]), 2, 0.5, t(x2[0] ** 2))),
        (F.multilabel_soft_margin_loss(Tensor(x1), Tensor((x2 > 0) * 1.0), Tensor(x3[0] ** 2)),
         tf.multilabel_soft_margin_loss(t(x1), t((x2 > 0) * 1.0), t(x3[0] ** 2))),
    ]
    for ours, theirs in cases:
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)
