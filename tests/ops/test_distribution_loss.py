"""poisson_nll_loss and gaussian_nll_loss against NumPy formulas, every reduction and the
variance shapes, gradcheck and gradgradcheck, errors; PyTorch where installed."""

import math

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


@pytest.mark.parametrize("log_input", [True, False])
@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_poisson_nll_loss(log_input, full, reduction, device):
    target = np.array([[0.0, 1.0, 2.0], [3.0, 0.5, 7.0]])
    x = Tensor(rand(2, 3) if log_input else np.abs(rand(2, 3)) + 0.1, device=device)

    def reference(a):
        loss = np.exp(a) - target * a if log_input else a - target * np.log(a + 1e-8)
        if full:
            safe = np.where(target > 1, target, 1.0)
            loss = loss + np.where(target > 1, safe * np.log(safe) - safe
                                   + 0.5 * np.log(2 * math.pi * safe), 0)
        return reduce(loss, reduction)
    check_op(lambda a: F.poisson_nll_loss(a, Tensor(target, device=device), log_input, full,
                                          reduction=reduction), reference, x)


@pytest.mark.parametrize("var_shape", [(3, 4), (3, 1), (3,), (1, 4)])
@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_gaussian_nll_loss(var_shape, full, reduction, device):
    x, target = Tensor(rand(3, 4), device=device), rand(3, 4, seed=1)
    var = Tensor(np.abs(rand(*var_shape, seed=2)) + 0.1, device=device)

    def reference(a, v):
        v = v[..., None] if v.shape == (3,) else v
        loss = 0.5 * (np.log(v) + (a - target) ** 2 / v) + (0.5 * math.log(2 * math.pi)
                                                            if full else 0)
        return reduce(np.broadcast_to(loss, (3, 4)), reduction)
    check_op(lambda a, v: F.gaussian_nll_loss(a, Tensor(target, device=device), v, full,
                                              reduction=reduction), reference, x, var)


def test_gaussian_nll_loss_clamps_the_variance_in_value_only():
    var = Tensor([0.0, 2.0], requires_grad=True)
    loss = F.gaussian_nll_loss(Tensor([0.0, 0.0]), Tensor([1.0, 1.0]), var, eps=0.5,
                               reduction="sum")
    np.testing.assert_allclose(loss.item(), 0.5 * (math.log(0.5) + 2 + math.log(2) + 0.5),
                               rtol=1e-6)
    loss.backward()  # d/dvar of 0.5 (log v + d^2 / v) at the clamped value, passed through
    np.testing.assert_allclose(var.grad.numpy(), [0.5 * (2 - 4), 0.5 * (0.5 - 0.25)])
    scalar = F.gaussian_nll_loss(Tensor([0.0, 1.0]), Tensor([1.0, 1.0]), 2.0, reduction="none")
    np.testing.assert_allclose(scalar.numpy(), 0.5 * (math.log(2) + np.array([0.5, 0.0])),
                               rtol=1e-6)


def test_bad_input():
    x = Tensor(rand(3, 4))
    with pytest.raises(ShapeError, match=r"gaussian_nll_loss: var is of incorrect size \(3, 2\)"):
        F.gaussian_nll_loss(x, x, Tensor.ones(3, 2))
    with pytest.raises(ShapeError, match="var is of incorrect size"):
        F.gaussian_nll_loss(x, x, Tensor.ones(1, 1))  # two axes differ
    with pytest.raises(ValueError, match="var has negative entry"):
        F.gaussian_nll_loss(x.to("cpu"), x.to("cpu"), Tensor([-1.0, 1.0, 1.0], device="cpu"))
    with pytest.raises(ValueError, match="var has negative entry"):
        F.gaussian_nll_loss(x, x, -0.5)
    with pytest.raises(ValueError, match="reduction must be one of"):
        F.poisson_nll_loss(x, x, reduction="batchmean")
    loss = F.gaussian_nll_loss(Tensor(rand(2, 2), device="emu"), Tensor(rand(2, 2), device="emu"),
                               Tensor([-1.0, 1.0], device="emu"))
    assert np.isnan(loss.item())  # off the CPU: no host sync, a NaN loss


def test_against_torch():
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    x, target, var = rand(3, 4), np.abs(rand(3, 4, seed=1)) * 3, np.abs(rand(3, 1, seed=2))
    t = torch.tensor
    for kwargs in (dict(), dict(log_input=False, full=True, eps=1e-3), dict(full=True)):
        a = np.abs(x) if kwargs.get("log_input") is False else x
        np.testing.assert_allclose(F.poisson_nll_loss(Tensor(a), Tensor(target), **kwargs).item(),
                                   tf.poisson_nll_loss(t(a), t(target), **kwargs).item(),
                                   rtol=1e-12)
    for v in (var, var[:, 0], var.T[:, :1].T.repeat(4, 1)[:1]):
        np.testing.assert_allclose(
            F.gaussian_nll_loss(Tensor(x), Tensor(target), Tensor(v), full=True,
                                reduction="none").numpy(),
            tf.gaussian_nll_loss(t(x), t(target), t(v), full=True, reduction="none").numpy(),
            rtol=1e-12)
