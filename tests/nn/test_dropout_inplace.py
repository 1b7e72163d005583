"""The dropout layers honour inplace=True as PyTorch's: in training Dropout and
Dropout1d/2d/3d overwrite the input with the output (and return it), in eval the input comes
back untouched; AlphaDropout and FeatureAlphaDropout ignore the flag (PyTorch's modules do not
pass it on; their functional forms honour it)."""

import numpy as np
import pytest

import tinygrad_nv
from tinygrad_nv import Tensor, nn

LAYERS = [("Dropout", (4, 6)), ("Dropout1d", (2, 3, 5)), ("Dropout2d", (2, 3, 4, 4)),
          ("Dropout3d", (2, 3, 2, 2, 2))]
ALPHA = [("AlphaDropout", (4, 6)), ("FeatureAlphaDropout", (2, 3, 4, 4))]


@pytest.mark.parametrize("name,shape", LAYERS)
def test_inplace_layer_overwrites_its_input(name, shape, device):
    layer = getattr(nn, name)(p=0.5, inplace=True)
    x = Tensor.randn(*shape, device=device)
    before = x.numpy().copy()
    y = layer(x)
    assert y is x and not np.array_equal(x.numpy(), before)  # (p=0.5: some values change)
    layer.eval()
    z = Tensor.randn(*shape, device=device)
    kept = z.numpy().copy()
    assert layer(z) is z and np.array_equal(z.numpy(), kept)


@pytest.mark.parametrize("name,shape", LAYERS)
def test_inplace_layer_gradient_flows_as_out_of_place(name, shape, device):
    """Through a non-leaf input the gradient is the mask's: d(sum(drop(2w)))/dw is 2 * scale
    where kept, PyTorch's; the in-place form gives what its own output says."""
    w = Tensor.randn(*shape, device=device, requires_grad=True)
    h = w * 2.0
    out = getattr(nn, name)(p=0.5, inplace=True)(h)
    assert out is h and out.grad_fn is not None
    (out * w.detach()).sum().backward()
    assert w.grad is not None and w.grad.shape == w.shape


def test_inplace_layer_refuses_a_leaf_that_requires_grad():
    with pytest.raises(RuntimeError, match="leaf"):
        nn.Dropout(0.5, inplace=True)(Tensor.ones(3, requires_grad=True))


@pytest.mark.parametrize("name,shape", ALPHA)
def test_alpha_layers_ignore_inplace_functional_forms_honour_it(name, shape, device):
    x = Tensor.ones(*shape, device=device)
    y = getattr(nn, name)(p=0.5, inplace=True)(x)
    assert y is not x and np.array_equal(x.numpy(), np.ones(shape))
    functional = {"AlphaDropout": "alpha_dropout", "FeatureAlphaDropout": "feature_alpha_dropout"}
    y = getattr(nn.functional, functional[name])(x, 0.5, True, inplace=True)
    assert y is x and not np.array_equal(x.numpy(), np.ones(shape))


@pytest.mark.parametrize("name,shape", LAYERS + ALPHA)
def test_inplace_as_torch(name, shape):
    torch = pytest.importorskip("torch")
    for lib in (torch, tinygrad_nv):
        lib.manual_seed(0)
        w = lib.ones(*shape, requires_grad=True)
        h = w * 2.0
        out = getattr(lib.nn, name)(p=0.5, inplace=True)(h)
        assert (out is h) == ((name, shape) in LAYERS), lib
        out.sum().backward()
        grads = np.unique(w.grad.numpy().round(4))
        # the gradient takes the values of the mask's scale only: dropped 0 or kept 2 / (1-p)
        # (alpha dropout: a * 2 where kept, 0 where dropped)
        assert len(grads) <= 2 and 0.0 in grads or len(grads) == 1
        if (name, shape) in LAYERS:
            with pytest.raises(RuntimeError):
                getattr(lib.nn, name)(p=0.5, inplace=True)(lib.ones(*shape, requires_grad=True))
