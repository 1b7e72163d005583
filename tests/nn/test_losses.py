"""The losses of issue 9 (cross_entropy with probability targets and -inf logits,
smooth_l1_loss, huber_loss, kl_div) against NumPy written here, gradients in float64, the
loss modules' arguments, and bad targets without host syncs off the CPU."""

import numpy as np
import pytest

import tinygrad_nv.nn as nn
import tinygrad_nv.nn.functional as F
from tests.helpers import check_op
from tinygrad_nv import Tensor
from tinygrad_nv.nn.losses import REDUCTIONS


def rand(*shape, seed=0, device=None):
    return Tensor(np.random.default_rng(seed).standard_normal(shape), device=device)


def probs(*shape, seed=0, device=None):
    p = np.random.default_rng(seed).random(shape)
    return Tensor(p / p.sum(axis=1, keepdims=True), device=device)


def reduce(loss, reduction):
    return {"none": loss, "sum": loss.sum(), "mean": loss.mean()}[reduction]


def log_softmax(a, axis):
    shifted = a - a.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.3])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_with_probability_targets(reduction, smoothing, weighted, device):
    logits, target = rand(4, 3, 2, seed=1, device=device), probs(4, 3, 2, seed=2, device=device)
    weight = np.array([0.5, 2.0, 1.0])

    def ref(x, q):
        q = q * (1 - smoothing) + smoothing / 3
        w = weight.reshape(3, 1) if weighted else 1.0
        return reduce(-(w * q * log_softmax(x, 1)).sum(axis=1), reduction)

    w = Tensor(weight, device=device) if weighted else None
    check_op(lambda x, q: F.cross_entropy(x, q, weight=w, reduction=reduction,
                                          label_smoothing=smoothing), ref, logits, target,
             gradgrad=False)


def test_cross_entropy_with_a_minus_inf_logit_is_finite(device):
    logits = Tensor([[1.0, -np.inf, 2.0], [0.5, 0.2, 0.1]], device=device, requires_grad=True)
    loss = F.cross_entropy(logits, Tensor([0, 2], device=device))
    a = np.array([[1.0, -np.inf, 2.0], [0.5, 0.2, 0.1]])
    logp = log_softmax(np.where(np.isinf(a), -1e300, a), 1)
    np.testing.assert_allclose(loss.item(), -(logp[0, 0] + logp[1, 2]) / 2, rtol=1e-6)
    loss.backward()
    assert np.isfinite(logits.grad.numpy()).all() and logits.grad.numpy()[0, 1] == 0.0


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("beta", [1.0, 0.5, 0.0])
def test_smooth_l1_loss(reduction, beta, device):
    x, y = rand(3, 4, seed=1, device=device), rand(3, 4, seed=2, device=device)

    def ref(a, b):
        d = np.abs(a - b)
        return reduce(d if beta == 0 else np.where(d < beta, 0.5 * d * d / beta, d - 0.5 * beta),
                      reduction)

    check_op(lambda a, b: F.smooth_l1_loss(a, b, reduction, beta), ref, x, y, gradgrad=False)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_huber_loss(reduction, device):
    x, y = rand(3, 4, seed=1, device=device), rand(3, 4, seed=2, device=device)

    def ref(a, b):
        d = np.abs(a - b)
        return reduce(np.where(d <= 0.7, 0.5 * d * d, 0.7 * (d - 0.35)), reduction)

    check_op(lambda a, b: F.huber_loss(a, b, reduction, delta=0.7), ref, x, y, gradgrad=False)


@pytest.mark.parametrize("reduction", [*REDUCTIONS, "batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div(reduction, log_target, device):
    log_input = Tensor(np.log(probs(3, 4, seed=1).numpy()), device=device)
    target = probs(3, 4, seed=2).numpy()
    target = Tensor(np.log(target) if log_target else target, device=device)

    def ref(lp, t):
        p = np.exp(t) if log_target else t
        log_p = t if log_target else np.log(np.where(p > 0, p, 1.0))
        loss = np.where(p > 0, p * (log_p - lp), 0.0)
        return loss.sum() / 3 if reduction == "batchmean" else reduce(loss, reduction)

    check_op(lambda a, b: F.kl_div(a, b, reduction, log_target), ref, log_input, target,
             gradgrad=False)


def test_kl_div_of_a_zero_target_is_zero(device):
    log_input = Tensor(np.log([[0.5, 0.5]]), device=device)
    loss = F.kl_div(log_input, Tensor([[0.0, 1.0]], device=device), reduction="none")
    np.testing.assert_allclose(loss.numpy(), [[0.0, np.log(2.0)]])


@pytest.mark.parametrize("module,function,kwargs", [
    (nn.CrossEntropyLoss, F.cross_entropy, dict(label_smoothing=0.1, ignore_index=1)),
    (nn.NLLLoss, F.nll_loss, dict(reduction="sum")),
    (nn.MSELoss, F.mse_loss, dict(reduction="none")),
    (nn.L1Loss, F.l1_loss, dict()),
    (nn.BCELoss, F.binary_cross_entropy, dict()),
    (nn.BCEWithLogitsLoss, F.binary_cross_entropy_with_logits, dict(reduction="sum")),
    (nn.SmoothL1Loss, F.smooth_l1_loss, dict(beta=0.5)),
    (nn.HuberLoss, F.huber_loss, dict(delta=2.0)),
    (nn.KLDivLoss, F.kl_div, dict(reduction="batchmean", log_target=True)),
])
def test_loss_modules_call_their_function(module, function, kwargs, device):
    classes = function in (F.cross_entropy, F.nll_loss)
    x = (rand(4, 3, seed=1, device=device) if function is not F.binary_cross_entropy
         else rand(4, 3, seed=1, device=device).sigmoid())
    y = Tensor(np.array([0, 2, 1, 2]), device=device) if classes \
        else rand(4, 3, seed=2, device=device).sigmoid()
    np.testing.assert_allclose(module(**kwargs)(x, y).numpy(),
                               function(x, y, **kwargs).numpy())


def test_loss_module_weights_are_buffers(device):
    weight = Tensor([1.0, 2.0, 3.0])
    loss = nn.CrossEntropyLoss(weight=weight)
    assert list(loss.state_dict()) == ["weight"]
    assert nn.CrossEntropyLoss().state_dict() == {}
    x, y = rand(4, 3, seed=1, device=device), Tensor(np.array([0, 2, 1, 2]), device=device)
    np.testing.assert_allclose(loss.to(device)(x, y).numpy(),
                               F.cross_entropy(x, y, weight=weight.to(device)).numpy())


def test_bad_targets_give_nan_off_the_cpu_and_raise_on_it(device):
    logits, targets = rand(3, 4, device=device), Tensor(np.array([0, 7, 1]), device=device)
    weight = Tensor(np.ones(4), device=device)
    calls = [lambda: F.cross_entropy(logits, targets),
             lambda: F.cross_entropy(logits, targets, weight=weight),
             lambda: F.nll_loss(logits, targets),
             lambda: F.embedding(targets, rand(5, 2, device=device))]
    for call in calls:
        if device == "cpu":
            with pytest.raises(IndexError, match="7"):
                call()
        else:
            assert np.isnan(call().numpy()).any()
