"""soft_margin_loss, hinge_embedding_loss, multilabel_margin_loss and
triplet_margin_with_distance_loss against NumPy formulas (gradcheck/gradgradcheck on
hypothesis-drawn shapes) and torch (values, gradients, reductions), with their errors; their
modules' reprs and forward against torch's."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as hst

import tinygrad_nv.nn.functional as F
from tests.helpers import check_op
from tinygrad_nv import Tensor, nn
from tinygrad_nv.testing import strategies as st


def _multilabel(x, t):
    n, c = x.shape
    out = np.zeros(n)
    for s in range(n):
        listed = list(t[s][:list(t[s]).index(-1)] if -1 in t[s] else t[s])
        for j in listed:
            for i in set(range(c)) - set(listed):
                out[s] += max(0.0, 1 - x[s, j] + x[s, i])
    return out / c


@given(data=hst.data())
def test_soft_margin_and_hinge_embedding_against_numpy(data, device):
    x = data.draw(st.tensors(shape=st.shapes(min_dims=1, max_dims=3), avoid=(0.5,),
                             margin=0.05, device=device))
    y = Tensor(data.draw(hst.lists(hst.sampled_from([-1.0, 1.0]), min_size=x.numel(),
                                   max_size=x.numel())), device=device).reshape(x.shape)
    check_op(lambda t: F.soft_margin_loss(t, y, reduction="none"),
             lambda a: np.log1p(np.exp(-y.numpy() * a)), x)
    check_op(lambda t: F.hinge_embedding_loss(t, y, margin=0.5, reduction="sum"),
             lambda a: np.where(y.numpy() == 1, a, np.maximum(0, 0.5 - a)).sum(), x)


@given(data=hst.data())
def test_multilabel_margin_against_numpy(data, device):
    n, c = data.draw(hst.integers(1, 3)), data.draw(hst.integers(1, 5))
    rng = np.random.default_rng(data.draw(hst.integers(0, 99)))
    x = Tensor(rng.normal(size=(n, c)), device=device, requires_grad=True)
    t = np.stack([np.concatenate([rng.permutation(c)[:rng.integers(0, c + 1)],
                                  -np.ones(c, np.int64)])[:c] for _ in range(n)])  # classes, -1s
    target = Tensor(t.astype(np.int64), device=device)
    check_op(lambda a: F.multilabel_margin_loss(a, target, reduction="none"),
             lambda a: _multilabel(a, t), x)


def test_against_torch(device):
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4, 5))
    signs = np.sign(rng.normal(size=(4, 5)))
    signs[0, 0] = 0.0  # neither 1 nor -1: both of hinge embedding's terms, as torch
    labels = np.array([[3, 0, -1, 1, 2], [1, -1, 4, 4, 4], [4, 2, 1, 0, 3], [-1, 0, 0, 0, 0]])
    p, q = rng.normal(size=(4, 5)), rng.normal(size=(4, 5))
    cases = [
        (lambda f, x, T: f.soft_margin_loss(x, T(signs)), "mean"),
        (lambda f, x, T: f.hinge_embedding_loss(x, T(signs), 0.3, reduction="none"), "none"),
        (lambda f, x, T: f.multilabel_margin_loss(x, T(labels), reduction="sum"), "sum"),
        (lambda f, x, T: f.triplet_margin_with_distance_loss(
            x, T(p), T(q), margin=2.0, swap=True), "mean"),
        (lambda f, x, T: f.triplet_margin_with_distance_loss(
            x, T(p), T(q), distance_function=lambda u, v: (u - v).abs().sum(-1),
            reduction="none"), "none"),
    ]
    for case, _ in cases:
        x = Tensor(a, device=device, requires_grad=True)
        tx = torch.tensor(a, requires_grad=True)
        y = case(F, x, lambda v: Tensor(v, device=device))
        ty = case(tf, tx, torch.tensor)
        np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-12)
        y.sum().backward(), ty.sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name,args,kwargs", [
    ("SoftMarginLoss", (), {}), ("HingeEmbeddingLoss", (0.5,), {}),
    ("MultiLabelMarginLoss", (), {"reduction": "sum"}),
    ("TripletMarginWithDistanceLoss", (), {"margin": 0.5}),
])
def test_modules_match_torch(name, args, kwargs):
    torch = pytest.importorskip("torch")
    ours, theirs = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert repr(ours) == repr(theirs) and ours.reduction == theirs.reduction
    rng = np.random.default_rng(1)
    inputs = [rng.normal(size=(3, 4)) for _ in range(3 if "Triplet" in name else 1)]
    if "Triplet" not in name:
        inputs.append(np.array([[0, 2, -1, 1]] * 3) if "Label" in name
                      else np.sign(rng.normal(size=(3, 4))))
    got = ours(*(Tensor(v) for v in inputs)).numpy()
    np.testing.assert_allclose(got, theirs(*(torch.tensor(v) for v in inputs)).numpy(),
                               rtol=1e-10)


def test_triplet_with_distance_registers_its_distance_module():
    loss = nn.TripletMarginWithDistanceLoss()
    assert isinstance(loss.distance_function, nn.PairwiseDistance)
    custom = nn.TripletMarginWithDistanceLoss(distance_function=nn.CosineSimilarity())
    assert "distance_function" in dict(custom.named_children())


@pytest.mark.parametrize("call,exc,match", [
    (lambda x: F.soft_margin_loss(x, Tensor.ones(3)), ValueError,
     r"soft_margin_loss: target must have the input's shape \(2, 3\), got \(3,\)"),
    (lambda x: F.multilabel_margin_loss(x, Tensor([[0.0, 1.0, 2.0]] * 2)), TypeError,
     "multilabel_margin_loss: target must be integer class indices"),
    (lambda x: F.multilabel_margin_loss(x, Tensor([0, 1])), ValueError,
     r"multilabel_margin_loss: expected input \(N, C\) or \(C,\) and a target of the same"),
    (lambda x: F.triplet_margin_with_distance_loss(x, x, x, margin=0.0), ValueError,
     "triplet_margin_with_distance_loss: margin must be greater than 0"),
    (lambda x: F.triplet_margin_with_distance_loss(x, x, x[0]), ValueError,
     "the anchor, positive and negative tensors must have the same number of dimensions"),
    (lambda x: nn.TripletMarginWithDistanceLoss(margin=-1.0), ValueError,
     "TripletMarginWithDistanceLoss: margin must be greater than 0"),
    (lambda x: F.hinge_embedding_loss(x, x, reduction="avg"), ValueError,
     "hinge_embedding_loss: reduction must be one of"),
])
def test_bad_inputs(call, exc, match):
    with pytest.raises(exc, match=match):
        call(Tensor.ones(2, 3))


def test_multilabel_margin_class_out_of_range(device):
    x, target = Tensor.ones(2, 3, device=device), Tensor([[0, 5, -1], [0, -1, 0]], device=device)
    if device == "cpu":  # elsewhere no host sync: the sample's loss is NaN (as PyTorch on a GPU)
        with pytest.raises(IndexError, match="multilabel_margin_loss: target 5 is out of "
                                             "bounds for 3 classes"):
            F.multilabel_margin_loss(x, target)
    else:
        loss = F.multilabel_margin_loss(x, target, reduction="none").numpy()
        assert np.isnan(loss[0]) and loss[1] == 2 / 3
