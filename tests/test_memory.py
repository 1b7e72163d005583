"""What a step keeps for backward, and how soon backward lets it go: the fused linear layer
keeps one array, not the pre-activation beside the output; the engine frees each
intermediate once its backward has run."""

from __future__ import annotations

import weakref

import numpy as np
import pytest

from tinygrad_nv import Tensor, no_grad
from tinygrad_nv.autograd import Function
from tinygrad_nv.ops.matrix import LinearAct, LinearRelu
from tinygrad_nv.testing import gradcheck, gradgradcheck


def layer(device, activation, requires_grad=True):
    rng = np.random.default_rng(0)
    x, w, b = (Tensor(rng.standard_normal(shape), device=device, requires_grad=requires_grad)
               for shape in ((4, 3), (5, 3), (5,)))
    return x, w, b, x.linear(w, b, activation=activation)


def test_without_activation_the_output_is_the_pre_activation(device):
    x, w, b, y = layer(device, None)
    assert type(y._ctx) is LinearAct and not hasattr(y._ctx, "pre")
    np.testing.assert_allclose(y.numpy(), x.numpy() @ w.numpy().T + b.numpy(), rtol=1e-12)
    gradcheck(lambda *t: t[0].linear(t[1], t[2]), [x, w, b])


def test_relu_keeps_its_output_only(device):
    x, w, b, y = layer(device, "relu")
    assert type(y._ctx) is LinearRelu and not hasattr(y._ctx, "pre")
    expected = np.maximum(x.numpy() @ w.numpy().T + b.numpy(), 0)
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-12)

    def fn(*t):
        return t[0].linear(t[1], t[2], activation="relu")
    gradcheck(fn, [x, w, b])
    gradgradcheck(fn, [x, w, b])


def test_in_place_changes_of_the_output_as_in_pytorch(device):
    _, _, _, y = layer(device, "relu")  # relu's result is saved: an error
    total = y.sum()
    with no_grad():
        y += 1
    with pytest.raises(RuntimeError, match="LinearRelu.backward: .* modified by an inplace"):
        total.backward()
    x, w, b, y = layer(device, None)  # a linear layer's output is not: fine
    total = y.sum()
    with no_grad():
        y += 1
    total.backward()
    np.testing.assert_allclose(w.grad.numpy(), np.tile(x.numpy().sum(0), (5, 1)), rtol=1e-12)


@pytest.mark.parametrize("activation", ["relu", None, "tanh"])
def test_against_pytorch(activation, device):
    torch = pytest.importorskip("torch")
    x, w, b, y = layer(device, activation)
    y.backward(Tensor(np.linspace(-1, 1, y.numel()).reshape(y.shape), device=device))
    tx, tw, tb = (torch.tensor(t.numpy(), requires_grad=True) for t in (x, w, b))
    ty = torch.nn.functional.linear(tx, tw, tb)
    ty = {None: ty, "relu": ty.relu(), "tanh": ty.tanh()}[activation]
    ty.backward(torch.tensor(np.linspace(-1, 1, y.numel()).reshape(y.shape)))
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-12)
    for ours, theirs in ((x, tx), (w, tw), (b, tb)):
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-12)


class Mark(Function):
    """The identity, recording a weak reference to the array it returns."""

    refs: list = []

    def forward(self, x):
        out = x.copy()
        Mark.refs.append(weakref.ref(out))
        return out

    def backward(self, g):
        return g


class Probe(Function):
    """The identity; its backward notes whether Mark's latest output is already freed."""

    freed: list = []

    def forward(self, x):
        return x.copy()

    def backward(self, g):
        Probe.freed.append(Mark.refs[-1]() is None)
        return g


def test_backward_frees_an_intermediate_once_its_backward_has_run():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    Mark.apply(Probe.apply(x)).sum().backward()  # backward runs sum, Mark, then Probe
    assert Probe.freed == [True]
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 1.0, 1.0])
