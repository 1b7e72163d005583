"""The losses of issue 9 (cross_entropy with probability targets and -inf logits,
smooth_l1_loss, huber_loss, kl_div) against NumPy written here, gradients in float64, the
loss modules' arguments, and bad targets without host syncs off the CPU."""

import numpy as np
import pytest

import tinygrad_nv.nn as nn
import tinygrad_nv.nn.functional as F
from tests.helpers import check_op
from tinygrad_nv import Tensor
from tinygrad_nv.ops.loss import REDUCTIONS


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

    check_op(lambda a, b: F.smooth_l1_loss(a, b, reduction=reduction, beta=beta), ref, x, y,
             gradgrad=False)


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

    check_op(lambda a, b: F.kl_div(a, b, reduction=reduction, log_target=log_target), ref,
             log_input, target, gradgrad=False)


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


def _all_ignored_loss(f, make, name, x, t, reduction, weighted, smoothing):
    """The loss under test in the framework of `f` (nn.functional) and `make` (a tensor)."""
    weight = make(np.linspace(0.5, 2, 4)) if weighted else None
    if name == "cross_entropy":
        return f.cross_entropy(x, t, weight=weight, reduction=reduction, ignore_index=3,
                               label_smoothing=smoothing)
    return f.nll_loss(x, t, weight=weight, reduction=reduction, ignore_index=3)


@pytest.mark.parametrize("name, smoothing", [("cross_entropy", 0.0), ("cross_entropy", 0.1),
                                             ("nll_loss", 0.0)])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_every_target_ignored(name, smoothing, weighted, reduction, device):
    """As PyTorch: 'mean' is 0 / 0 = NaN, 'sum' 0, 'none' zeros, and every gradient is 0 (an
    all-padding batch must not turn the weights NaN); (N, C) and (N, C, d) inputs."""
    for shape, t_shape in (((5, 4), (5,)), ((2, 4, 3), (2, 3))):
        a = np.random.default_rng(0).standard_normal(shape)
        x = Tensor(a, device=device, requires_grad=True)
        t = Tensor(np.full(t_shape, 3), device=device)
        loss = _all_ignored_loss(F, lambda v: Tensor(v, device=device), name, x, t, reduction,
                                 weighted, smoothing)
        loss.sum().backward()
        if reduction == "mean":
            assert np.isnan(loss.item())
        else:
            np.testing.assert_array_equal(loss.numpy(), np.zeros(loss.shape))
        np.testing.assert_array_equal(x.grad.numpy(), np.zeros(shape))
        torch = pytest.importorskip("torch")
        tx = torch.tensor(a, requires_grad=True)
        tloss = _all_ignored_loss(torch.nn.functional, torch.tensor, name, tx,
                                  torch.tensor(np.full(t_shape, 3)), reduction, weighted,
                                  smoothing)
        tloss.sum().backward()
        np.testing.assert_array_equal(loss.numpy(), tloss.detach().numpy())
        np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())


@pytest.mark.parametrize("name", ["cross_entropy", "nll_loss"])
def test_targets_of_zero_total_weight_give_nan_loss_and_zero_gradients(name, device):
    """Every target's class weighs 0: the mean is 0 / 0 = NaN as in PyTorch, and the
    gradient 0 (PyTorch's is NaN there: 0 * g / 0; a batch of zero-weight padding must not
    turn the weights NaN either)."""
    x = Tensor(np.random.default_rng(1).standard_normal((4, 3)), device=device,
               requires_grad=True)
    weight = Tensor([0.0, 1.0, 2.0], device=device)
    loss = getattr(F, name)(x, Tensor([0, 0, 0, 0], device=device), weight=weight)
    loss.backward()
    assert np.isnan(loss.item())
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros((4, 3)))


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_some_targets_ignored_against_numpy_and_gradcheck(reduction, device):
    """The fix keeps the ordinary case: mean over the weight of the targets left."""
    a = np.random.default_rng(2).standard_normal((5, 4))
    w = np.array([0.5, 1.0, 1.5, 2.0])
    t = np.array([1, 3, 3, 0, 2])
    keep = t != 3
    logp = log_softmax(a, 1)
    picked = -logp[np.arange(5), np.where(keep, t, 0)] * w[np.where(keep, t, 0)] * keep
    expected = picked.sum() / ((w[np.where(keep, t, 0)] * keep).sum() if reduction == "mean"
                               else 1)
    weight, targets = Tensor(w, device=device), Tensor(t, device=device)
    check_op(lambda x: F.cross_entropy(x, targets, weight=weight, ignore_index=3,
                                       reduction=reduction),
             lambda x: expected, Tensor(a, device=device), float32=False)


def test_binary_cross_entropy_with_all_zero_weights(device):
    """As PyTorch: the loss is 0 (the mean of zeros) and so is every gradient."""
    p = Tensor(np.array([[0.2, 0.7], [0.9, 0.4]]), device=device, requires_grad=True)
    y = Tensor(np.array([[0.0, 1.0], [1.0, 0.5]]), device=device)
    zero = Tensor(np.zeros((2, 2)), device=device)
    for fn in (F.binary_cross_entropy, F.binary_cross_entropy_with_logits):
        for reduction in REDUCTIONS:
            p.grad = None
            loss = fn(p, y, weight=zero, reduction=reduction)
            loss.sum().backward()
            np.testing.assert_array_equal(loss.numpy(), np.zeros(loss.shape))
            np.testing.assert_array_equal(p.grad.numpy(), np.zeros((2, 2)))
