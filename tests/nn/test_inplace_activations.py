"""`inplace=True` of the activation layers and nn.functional while a graph is recorded: the
input is changed and returned, so what still holds it sees the new values, with PyTorch's
values and gradients (a layer's output kept before an nn.ReLU(inplace=True), as feature
extractors keep it)."""

import numpy as np
import pytest

import tinygrad_nv as tg
from tinygrad_nv import nn
from tinygrad_nv.nn import functional as F

LAYERS = [("ReLU", ()), ("ReLU6", ()), ("LeakyReLU", (0.2,)), ("Hardtanh", (-0.5, 0.5)),
          ("Hardsigmoid", ()), ("SiLU", ()), ("Hardswish", ()), ("Mish", ()), ("ELU", (0.7,)),
          ("SELU", ()), ("CELU", (1.3,)), ("Threshold", (0.1, -2.0)), ("RReLU", (0.3, 0.3))]


def kept_then_activated(lib, name, args, data, weight):
    """A product's output kept in a list, then the layer applied in place; the loss reads
    the kept tensor and the layer's result."""
    a = lib.tensor(data, requires_grad=True)
    x = a * 3.0
    kept = [x]
    y = getattr(lib.nn, name)(*args, inplace=True)(x)
    loss = (kept[0] * lib.tensor(weight)).sum() + (y * y).sum()
    loss.backward()
    return y is x, kept[0].detach().numpy(), a.grad.numpy()


@pytest.mark.parametrize("name,args", LAYERS, ids=[n for n, _ in LAYERS])
def test_layer_changes_its_input_with_pytorchs_values_and_gradients(name, args):
    torch = pytest.importorskip("torch")
    rng = np.random.RandomState(0)
    data = rng.randn(3, 5)
    weight = rng.randn(3, 5)
    ours = kept_then_activated(tg, name, args, data, weight)
    theirs = kept_then_activated(torch, name, args, data, weight)
    assert ours[0] and theirs[0]  # the input itself, changed
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-12, atol=1e-12)
    # rtol 1e-7: PyTorch's float64 hardsigmoid backward uses a float32 1/6
    np.testing.assert_allclose(ours[2], theirs[2], rtol=1e-7, atol=1e-12)


def test_out_of_place_layer_leaves_its_input():
    x = tg.tensor([-1.0, 2.0], requires_grad=True) * 1.0
    y = nn.ReLU()(x)
    assert y is not x and x.tolist() == [-1.0, 2.0]


def test_functional_inplace_on_a_leaf_that_requires_grad_raises():
    leaf = tg.tensor([-1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="relu_: a leaf tensor that requires grad"):
        nn.ReLU(inplace=True)(leaf)
    with tg.no_grad():  # no graph: written in place, as PyTorch
        assert F.relu(leaf, inplace=True) is leaf and leaf.tolist() == [0.0, 2.0]


def test_a_view_of_a_held_tensor_gets_a_new_result_while_recorded():
    base = tg.tensor([[-1.0, 2.0], [3.0, -4.0]], requires_grad=True) * 1.0
    view = base[0]
    y = F.relu(view, inplace=True)
    assert y is not view and y.tolist() == [0.0, 2.0] and base.tolist()[0] == [-1.0, 2.0]
    y.sum().backward()


def test_inplace_dropout_changes_its_input():
    x = tg.ones(4, 4, requires_grad=True) * 1.0
    y = F.dropout(x, 0.5, True, inplace=True)
    assert y is x and set(np.unique(x.detach().numpy())) <= {0.0, 2.0}
    y.sum().backward()
