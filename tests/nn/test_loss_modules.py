"""The loss modules of issue 18 (CosineEmbeddingLoss, MarginRankingLoss, TripletMarginLoss,
MultiLabelSoftMarginLoss, MultiMarginLoss, PoissonNLLLoss, GaussianNLLLoss, CTCLoss): their
constructor arguments reach the functional forms (tests/ops test those), weights are
buffers, legacy size_average/reduce work; PyTorch's values and gradients where installed."""

import numpy as np
import pytest

import tinygrad_nv.nn as nn
import tinygrad_nv.nn.functional as F
from tinygrad_nv import Tensor


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


X1, X2, X3 = rand(4, 3), rand(4, 3, seed=1), rand(4, 3, seed=2)
SIGNS = np.array([1.0, -1.0, -1.0, 1.0])
CLASSES = np.array([0, 2, 1, 2])
LABELS = (rand(4, 3, seed=3) > 0) * 1.0
CASES = {  # name: (our module and PyTorch's from one factory (nn, tensor), the inputs)
    "CosineEmbeddingLoss": (lambda m, t: m.CosineEmbeddingLoss(margin=0.2), (X1, X2, SIGNS)),
    "MarginRankingLoss": (lambda m, t: m.MarginRankingLoss(0.1, reduction="sum"),
                          (X1[:, 0], X2[:, 0], SIGNS)),
    "TripletMarginLoss": (lambda m, t: m.TripletMarginLoss(0.5, p=1.0, swap=True), (X1, X2, X3)),
    "MultiLabelSoftMarginLoss": (lambda m, t: m.MultiLabelSoftMarginLoss(
        weight=t(X3[0] ** 2), reduction="none"), (X1, LABELS)),
    "MultiMarginLoss": (lambda m, t: m.MultiMarginLoss(p=2, margin=0.5, weight=t(X3[1] ** 2)),
                        (X1, CLASSES)),
    "PoissonNLLLoss": (lambda m, t: m.PoissonNLLLoss(log_input=False, full=True, eps=1e-4),
                       (np.abs(X1), np.abs(X2) * 3)),
    "GaussianNLLLoss": (lambda m, t: m.GaussianNLLLoss(full=True, eps=1e-3),
                        (X1, X2, np.abs(X3[:, :1]))),
    "CTCLoss": (lambda m, t: m.CTCLoss(blank=2, zero_infinity=True),
                (np.log(np.random.default_rng(4).dirichlet(np.ones(3), (5, 2))),
                 np.array([[0, 1], [1, 1]]), np.array([5, 4]), np.array([2, 2]))),
}


def test_modules_forward_their_arguments():
    x1, x2, y = Tensor(X1), Tensor(X2), Tensor(SIGNS)
    np.testing.assert_allclose(nn.CosineEmbeddingLoss(0.2, reduction="sum")(x1, x2, y).item(),
                               F.cosine_embedding_loss(x1, x2, y, 0.2, reduction="sum").item())
    loss = nn.MultiMarginLoss(weight=Tensor(X3[0] ** 2))
    assert list(loss.state_dict()) == ["weight"] and not list(loss.parameters())
    np.testing.assert_allclose(loss(x1, Tensor(CLASSES)).item(), F.multi_margin_loss(
        x1, Tensor(CLASSES), weight=Tensor(X3[0] ** 2)).item())
    legacy = nn.TripletMarginLoss(reduce=False)(x1, x2, Tensor(X3))
    assert legacy.shape == (4,)
    assert nn.PoissonNLLLoss(size_average=False).reduction == "sum"
    with pytest.raises(ValueError, match="TripletMarginLoss: margin must be greater than 0"):
        nn.TripletMarginLoss(margin=-1.0)
    with pytest.raises(ValueError, match="MultiMarginLoss: only p == 1 and p == 2"):
        nn.MultiMarginLoss(p=3)
    with pytest.raises(ValueError, match="CTCLoss: reduction must be one of"):
        nn.CTCLoss(reduction="batchmean")
    with pytest.raises(TypeError):
        nn.GaussianNLLLoss(True)  # keyword-only, as PyTorch's


@pytest.mark.parametrize("name", sorted(CASES))
def test_against_torch(name):
    torch = pytest.importorskip("torch")
    make, inputs = CASES[name]
    ours, theirs = make(nn, Tensor), make(torch.nn, torch.tensor)
    mine = [Tensor(a, requires_grad=a.dtype.kind == "f") for a in inputs]
    ref = [torch.tensor(a, requires_grad=a.dtype.kind == "f") for a in inputs]
    out, expected = ours(*mine), theirs(*ref)
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-10)
    if name == "CTCLoss":  # PyTorch's gradient differs by exp(log_probs): tests/ops/test_ctc.py
        return
    out.sum().backward()
    expected.sum().backward()
    for a, b in zip(mine, ref, strict=True):
        if b.grad is not None:
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-9, atol=1e-12)
