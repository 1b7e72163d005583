"""Layers with PyTorch's weights copied across give PyTorch's outputs and input gradients
(runs only where torch is installed; CI does not install it)."""

import numpy as np
import pytest

import tinygrad_nv.nn as nn
from tinygrad_nv import Tensor

torch = pytest.importorskip("torch")


def copy_weights(ours, theirs) -> None:
    state = {k: v.detach().numpy() for k, v in theirs.state_dict().items()}
    assert {k: v.shape for k, v in ours.state_dict().items()} == \
        {k: v.shape for k, v in state.items()}
    ours.load_state_dict({k: Tensor(v) for k, v in state.items()})


def compare(ours, theirs, *inputs, **kwargs):
    """Forward both on float64 copies of `inputs`; compare outputs and input gradients."""
    def wrap(make, a):
        return make(a, requires_grad=a.dtype.kind == "f") if isinstance(a, np.ndarray) else a

    mine = [wrap(Tensor, a) for a in inputs]
    ref = [wrap(torch.tensor, a) for a in inputs]
    out, expected = ours(*mine, **kwargs), theirs(*ref, **kwargs)
    out, expected = (out[0], expected[0]) if isinstance(out, tuple) else (out, expected)
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-9, atol=1e-10)
    weights = np.random.default_rng(0).standard_normal(out.shape)
    (out * Tensor(weights)).sum().backward()
    (expected * torch.tensor(weights)).sum().backward()
    for a, b in zip(mine, ref, strict=True):
        if isinstance(b, torch.Tensor) and b.grad is not None:
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-8, atol=1e-10)


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


@pytest.mark.parametrize("kind,kwargs", [
    ("RNN", dict(nonlinearity="relu", num_layers=2, bidirectional=True)),
    ("LSTM", dict(num_layers=2, bidirectional=True, batch_first=True)),
    ("GRU", dict(num_layers=2, bidirectional=True))])
def test_recurrent(kind, kwargs):
    theirs = getattr(torch.nn, kind)(3, 4, **kwargs).double()
    ours = getattr(nn, kind)(3, 4, **kwargs).double()
    copy_weights(ours, theirs)
    compare(ours, theirs, rand(5, 2, 3))


@pytest.mark.parametrize("kwargs", [dict(), dict(batch_first=True, bias=False),
                                    dict(kdim=5, vdim=3)])
def test_multihead_attention(kwargs):
    theirs = torch.nn.MultiheadAttention(8, 2, **kwargs).double()
    ours = nn.MultiheadAttention(8, 2, **kwargs).double()
    copy_weights(ours, theirs)
    padding = np.zeros((3, 6), dtype=bool)
    padding[1, 4:] = True
    q, k = rand(4, 3, 8, seed=1), rand(6, 3, kwargs.get("kdim", 8), seed=2)
    v = rand(6, 3, kwargs.get("vdim", 8), seed=3)
    if kwargs.get("batch_first"):
        q, k, v = (a.transpose(1, 0, 2).copy() for a in (q, k, v))
    compare(ours, theirs, q, k, v, padding)
    compare(ours, theirs, q, k, v, None, True, np.triu(np.ones((4, 6), dtype=bool), 1))


@pytest.mark.parametrize("kwargs", [dict(), dict(norm_first=True, activation="gelu",
                                                 batch_first=True)])
def test_transformer_encoder_layer(kwargs):
    theirs = torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, **kwargs).double().eval()
    ours = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, **kwargs).double().eval()
    copy_weights(ours, theirs)
    x = rand(5, 3, 8)
    x = x.transpose(1, 0, 2).copy() if kwargs.get("batch_first") else x
    compare(ours, theirs, x)
    compare(ours, theirs, x, np.triu(np.full((5, 5), -np.inf), 1), is_causal=True)


def test_conv_transpose_and_group_norm():
    theirs = torch.nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1,
                                      groups=2, dilation=2).double()
    ours = nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2,
                              dilation=2).double()
    copy_weights(ours, theirs)
    compare(ours, theirs, rand(2, 4, 5, 4))
    theirs, ours = torch.nn.GroupNorm(2, 6).double(), nn.GroupNorm(2, 6).double()
    copy_weights(ours, theirs)
    compare(ours, theirs, rand(2, 6, 3, 3))
