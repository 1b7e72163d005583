"""ctc_loss against a brute-force sum over every alignment, reductions, zero_infinity,
target layouts, gradcheck of the exact gradient, errors; PyTorch's losses and logit
gradients where installed."""

import itertools
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_nv.nn as nn
import tinygrad_nv.nn.functional as F
from tinygrad_nv import Tensor
from tinygrad_nv.ops._checks import ShapeError
from tinygrad_nv.testing import gradcheck


def log_probs(t, n, c, seed=0):
    logits = np.random.default_rng(seed).standard_normal((t, n, c))
    return logits - np.log(np.exp(logits).sum(-1, keepdims=True))


def collapse(path, blank):
    merged = [k for i, k in enumerate(path) if i == 0 or k != path[i - 1]]
    return [k for k in merged if k != blank]


def brute_force(lp, target, length, blank=0):
    """-log of the total probability of the paths of `length` frames that collapse to
    target."""
    total = sum(math.exp(sum(lp[t, k] for t, k in enumerate(path)))
                for path in itertools.product(range(lp.shape[1]), repeat=length)
                if collapse(path, blank) == list(target))
    return -math.log(total) if total > 0 else math.inf


TARGETS = [[1, 2], [1, 1], [2], [], [2, 1, 2]]


@pytest.mark.parametrize("blank", [0, 2])
def test_against_brute_force(blank, device):
    lp = log_probs(5, len(TARGETS), 3)
    labels = [[k if k != blank else 0 for k in tg] for tg in TARGETS]  # never the blank
    lengths = [5, 4, 3, 5, 5]
    padded = np.zeros((len(labels), 3), dtype=np.int64)
    for i, tg in enumerate(labels):
        padded[i, :len(tg)] = tg
    loss = F.ctc_loss(Tensor(lp, device=device), Tensor(padded, device=device), lengths,
                      [len(tg) for tg in labels], blank=blank, reduction="none")
    expected = [brute_force(lp[:, i], tg, n, blank) for i, (tg, n) in
                enumerate(zip(labels, lengths, strict=True))]
    np.testing.assert_allclose(loss.numpy(), expected, rtol=1e-12)


@given(st.integers(1, 4), st.lists(st.integers(1, 2), max_size=3), st.integers(0, 9))
def test_any_lengths_against_brute_force(length, target, seed):
    lp = log_probs(4, 1, 3, seed)
    loss = F.ctc_loss(Tensor(lp), Tensor([target + [0] * (3 - len(target))]), [length],
                      [len(target)], reduction="sum", zero_infinity=False).item()
    expected = brute_force(lp[:, 0], target, length)
    assert loss == expected if math.isinf(expected) else math.isclose(loss, expected,
                                                                      rel_tol=1e-10)


def test_reductions_layouts_and_unbatched():
    lp, padded = Tensor(log_probs(6, 3, 4)), Tensor([[1, 2, 2], [3, 0, 0], [1, 3, -1]])
    lengths, targets = [6, 5, 4], [3, 1, 2]
    none = F.ctc_loss(lp, padded, lengths, targets, reduction="none").numpy()
    np.testing.assert_allclose(F.ctc_loss(lp, padded, lengths, targets).item(),
                               (none / np.array(targets)).mean())
    np.testing.assert_allclose(F.ctc_loss(lp, padded, Tensor(lengths), Tensor(targets),
                                          reduction="sum").item(), none.sum())
    flat = Tensor([1, 2, 2, 3, 1, 3])  # concatenated targets
    np.testing.assert_allclose(F.ctc_loss(lp, flat, lengths, targets, reduction="none").numpy(),
                               none)
    single = F.ctc_loss(lp[:, 1], Tensor([3]), 5, 1, reduction="none")
    assert single.shape == () and math.isclose(single.item(), none[1])
    assert nn.CTCLoss(reduction="none")(lp, padded, lengths, targets).shape == (3,)


def test_zero_infinity():
    lp = Tensor(log_probs(3, 2, 3), requires_grad=True)
    targets = Tensor([[1, 1], [1, 2]])  # [1, 1] needs 3 frames; 2 are given
    loss = F.ctc_loss(lp, targets, [2, 3], [2, 2], reduction="none")
    assert math.isinf(loss.numpy()[0]) and math.isfinite(loss.numpy()[1])
    loss = nn.CTCLoss(zero_infinity=True, reduction="sum")(lp, targets, [2, 3], [2, 2])
    loss.backward()
    assert np.isfinite(loss.item())
    np.testing.assert_array_equal(lp.grad.numpy()[:, 0], 0.0)
    assert np.abs(lp.grad.numpy()[:, 1]).sum() > 0


def test_gradients(device):
    lp = Tensor(log_probs(5, 2, 3), device=device, requires_grad=True)
    targets = Tensor([[1, 2], [2, 2]], device=device)

    def loss(x):
        return F.ctc_loss(x, targets, [5, 4], [2, 2], blank=0, reduction="mean")
    assert gradcheck(loss, [lp])  # the exact gradient with respect to log_probs
    logits = Tensor(np.random.default_rng(1).standard_normal((5, 2, 3)), device=device,
                    requires_grad=True)
    assert gradcheck(lambda z: loss(z.log_softmax(2)), [logits])
    grad = loss(lp).backward() or lp.grad.numpy()
    np.testing.assert_array_equal(grad[4, 1], 0.0)  # past sample 1's input length
    np.testing.assert_allclose(grad[:4].sum(-1), np.full((4, 2), -1 / 4), rtol=1e-10)


def test_double_backward_raises():
    from tinygrad_nv import grad
    lp = Tensor(log_probs(3, 1, 3), requires_grad=True)
    loss = F.ctc_loss(lp, Tensor([[1]]), [3], [1])
    (g,) = grad(loss, [lp], create_graph=True)
    with pytest.raises(RuntimeError, match="double backward is not supported"):
        g.sum().backward()


def test_bad_input():
    lp, targets = Tensor(log_probs(4, 2, 3), device="cpu"), Tensor([[1, 2], [1, 1]], device="cpu")
    with pytest.raises(ShapeError, match="input_lengths must be at most T=4"):
        F.ctc_loss(lp, targets, [5, 4], [2, 2])
    with pytest.raises(ShapeError, match="S at least the longest target length"):
        F.ctc_loss(lp, targets, [4, 4], [3, 2])
    with pytest.raises(ShapeError, match="target_lengths must be 2 non-negative ints"):
        F.ctc_loss(lp, targets, [4, 4], [2])
    with pytest.raises(ValueError, match=r"blank must be in the label range \[0, 2\]"):
        F.ctc_loss(lp, targets, [4, 4], [2, 2], blank=3)
    with pytest.raises(IndexError, match="target 5 is out of bounds for 3 classes"):
        F.ctc_loss(lp, Tensor([[1, 5], [1, 1]], device="cpu"), [4, 4], [2, 2])
    with pytest.raises(ShapeError, match="shorter than sum"):
        F.ctc_loss(lp, Tensor([1, 2, 1]), [4, 4], [2, 2])
    with pytest.raises(ShapeError, match=r"log_probs must be floating point \(T, N, C\)"):
        F.ctc_loss(Tensor.ones(4), targets, [4, 4], [2, 2])
    bad = F.ctc_loss(Tensor(log_probs(4, 2, 3), device="emu"), Tensor([[1, 5], [1, 1]],
                                                                      device="emu"),
                     [4, 4], [2, 2], reduction="none").numpy()
    assert np.isnan(bad[0]) and np.isfinite(bad[1])  # off the CPU: NaN, no host sync


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("zero_infinity", [False, True])
def test_against_torch(reduction, zero_infinity):
    torch = pytest.importorskip("torch")
    logits = np.random.default_rng(2).standard_normal((7, 4, 5))
    targets = np.array([[1, 2, 2], [4, 4, 4], [3, 0, 0], [1, 1, 2]])
    lengths, target_lengths = [7, 6, 2, 4], [3, 3, 1, 3]
    ours = Tensor(logits, requires_grad=True)
    theirs = torch.tensor(logits, requires_grad=True)
    loss = F.ctc_loss(ours.log_softmax(2), Tensor(targets), lengths, target_lengths, blank=0,
                      reduction=reduction, zero_infinity=zero_infinity)
    expected = torch.nn.functional.ctc_loss(
        theirs.log_softmax(2), torch.tensor(targets), torch.tensor(lengths),
        torch.tensor(target_lengths), reduction=reduction, zero_infinity=zero_infinity)
    np.testing.assert_allclose(loss.numpy(), expected.detach().numpy(), rtol=1e-12)
    if zero_infinity or reduction == "none":
        weights = np.random.default_rng(3).standard_normal(loss.shape)
        (loss * Tensor(weights)).sum().backward()
        (expected * torch.tensor(weights)).sum().backward()
        keep = np.isfinite(expected.detach().numpy()) if reduction == "none" else slice(None)
        np.testing.assert_allclose(ours.grad.numpy()[:, keep], theirs.grad.numpy()[:, keep],
                                   rtol=1e-10, atol=1e-12)
