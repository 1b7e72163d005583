"""Threshold, RReLU, Hardshrink, Softshrink, Tanhshrink and Softmax2d: outputs and gradients
against torch's modules, reprs as torch's, training/eval behaviour and bad inputs."""

import numpy as np
import pytest

import tinygrad_nv.nn.functional as F
from tinygrad_nv import Tensor, nn

LAYERS = [("Threshold", (0.1, 20.0), {}), ("Threshold", (0.0, -1.0), {"inplace": True}),
          ("RReLU", (), {}), ("RReLU", (0.2, 0.4), {"inplace": True}), ("Hardshrink", (), {}),
          ("Softshrink", (0.3,), {}), ("Tanhshrink", (), {}), ("Softmax2d", (), {})]


@pytest.mark.parametrize("name,args,kwargs", LAYERS, ids=[c[0] for c in LAYERS])
def test_layer_matches_torch(name, args, kwargs, device):
    torch = pytest.importorskip("torch")
    ours, theirs = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert repr(ours) == repr(theirs)
    ours.eval(), theirs.eval()  # RReLU: the mean slope
    a = np.random.default_rng(0).normal(size=(2, 3, 4, 5))
    x = Tensor(a, device=device, requires_grad=True)
    tx = torch.tensor(a, requires_grad=True)
    y, ty = ours(x.clone()), theirs(tx.clone())  # inplace layers refuse a leaf, as torch
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    w = np.random.default_rng(1).normal(size=y.shape)
    (y * Tensor(w, device=device)).sum().backward()
    (ty * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_rrelu_draws_in_training_and_uses_the_mean_in_eval(device):
    layer = nn.RReLU(0.1, 0.3)
    x = Tensor(-np.ones(1000), device=device)
    slopes = -layer(x).numpy()
    assert 0.1 <= slopes.min() and slopes.max() < 0.3 and len(np.unique(slopes)) > 100
    layer.eval()
    np.testing.assert_allclose(layer(x).numpy(), -0.2)


def test_softmax2d_normalises_over_the_channels(device):
    x = Tensor(np.random.default_rng(0).normal(size=(3, 4, 5)), device=device)
    out = nn.Softmax2d()(x)
    np.testing.assert_allclose(out.numpy().sum(0), 1.0)
    np.testing.assert_allclose(out.numpy(), F.softmax(x, 0).numpy())
    with pytest.raises(ValueError, match=r"Softmax2d: expected a 3-D \(C, H, W\) or 4-D .*"
                                         r"got shape \(4, 5\)"):
        nn.Softmax2d()(Tensor.ones(4, 5))


def test_bad_arguments_name_the_layer():
    with pytest.raises(ValueError, match="softshrink: lambd must be >= 0"):
        nn.Softshrink(-0.5)(Tensor([1.0]))
    with pytest.raises(TypeError, match="Tanhshrink: .*Tensor.*got list"):
        nn.Tanhshrink()([1.0])
