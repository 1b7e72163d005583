"""optimizer.step(closure) for every optimizer, as PyTorch: the closure runs under
enable_grad (also inside no_grad), before the update that uses its gradients, and step
returns what it returned."""

import numpy as np
import pytest

import tinygrad_nv.optim as optim
from tinygrad_nv import Tensor, no_grad

ELEMENTWISE = [optim.SGD, optim.Adam, optim.AdamW, optim.RMSprop, optim.Adagrad, optim.NAdam,
               optim.RAdam, optim.Adamax, optim.Adadelta, optim.ASGD]
TARGET = np.array([[0.5, -1.0, 2.0], [1.5, 0.0, -0.5]])


def loss_of(w):
    return ((w - Tensor(TARGET)) ** 2).sum() + (w**4).sum()


@pytest.mark.parametrize("cls", [*ELEMENTWISE, optim.LBFGS], ids=lambda c: c.__name__)
def test_step_with_closure_inside_no_grad(cls):
    w = Tensor(np.ones((2, 3)), requires_grad=True)
    opt = cls([w], lr=0.1)
    seen = []

    def closure():
        opt.zero_grad()
        loss = loss_of(w)
        loss.backward()
        seen.append(loss)
        return loss

    with no_grad():
        for _ in range(3):
            first = len(seen)
            assert opt.step(closure) is seen[first]  # LBFGS: its first evaluation's loss
    assert w.grad is not None and len(seen) >= 3
    assert loss_of(w).item() < loss_of(Tensor(np.ones((2, 3)))).item()


@pytest.mark.parametrize("cls", ELEMENTWISE, ids=lambda c: c.__name__)
def test_closure_step_equals_backward_then_step(cls):
    """The update uses the gradients the closure computed: the same parameters as calling
    backward first and step() without a closure."""
    a, b = (Tensor(np.ones((2, 3)), requires_grad=True) for _ in range(2))
    opt_a, opt_b = cls([a], lr=0.05), cls([b], lr=0.05)

    def closure():
        opt_a.zero_grad()
        loss = loss_of(a)
        loss.backward()
        return loss

    for _ in range(4):
        loss = opt_a.step(closure)
        opt_b.zero_grad()
        expected = loss_of(b)
        expected.backward()
        opt_b.step()
        assert loss.item() == expected.item()
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert opt_b.step() is None
