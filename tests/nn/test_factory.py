"""Factory arguments: every layer with parameters or buffers creates them on `device=` in
`dtype=` (PyTorch's semantics; num_batches_tracked stays int64)."""

import numpy as np
import pytest

import tinygrad_nv.nn as nn
from tinygrad_nv.dtype import dtypes

LAYERS = {
    "Linear": lambda **f: nn.Linear(3, 2, **f),
    "Conv1d": lambda **f: nn.Conv1d(2, 4, 3, **f),
    "Conv2d": lambda **f: nn.Conv2d(2, 4, 3, **f),
    "ConvTranspose2d": lambda **f: nn.ConvTranspose2d(2, 4, 3, **f),
    "Embedding": lambda **f: nn.Embedding(5, 3, padding_idx=0, **f),
    "LayerNorm": lambda **f: nn.LayerNorm(4, **f),
    "GroupNorm": lambda **f: nn.GroupNorm(2, 4, **f),
    "BatchNorm1d": lambda **f: nn.BatchNorm1d(4, **f),
    "BatchNorm2d": lambda **f: nn.BatchNorm2d(4, **f),
    "PReLU": lambda **f: nn.PReLU(3, **f),
    "RNN": lambda **f: nn.RNN(3, 4, 2, "relu", **f),
    "LSTM": lambda **f: nn.LSTM(3, 4, bidirectional=True, **f),
    "GRU": lambda **f: nn.GRU(3, 4, **f),
    "MultiheadAttention": lambda **f: nn.MultiheadAttention(4, 2, kdim=3, **f),
    "TransformerEncoderLayer": lambda **f: nn.TransformerEncoderLayer(4, 2, 8, **f),
    "RMSNorm": lambda **f: nn.RMSNorm(4, **f),
    "InstanceNorm2d": lambda **f: nn.InstanceNorm2d(3, affine=True, track_running_stats=True,
                                                    **f),
    "Bilinear": lambda **f: nn.Bilinear(3, 2, 4, **f),
    "TransformerDecoderLayer": lambda **f: nn.TransformerDecoderLayer(4, 2, 8, **f),
    "Transformer": lambda **f: nn.Transformer(4, 2, 1, 1, 8, **f),
}


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_parameters_and_buffers_on_device_in_dtype(name, device):
    layer = LAYERS[name](device=device, dtype=dtypes.float64)
    tensors = dict(layer.named_parameters()) | dict(layer.named_buffers())
    assert tensors, name
    for key, t in tensors.items():
        assert str(t.device) == device, (name, key)
        expected = dtypes.int64 if key.endswith("num_batches_tracked") else dtypes.float64
        assert t.dtype == expected, (name, key)
        assert np.isfinite(t.numpy()).all(), (name, key)
    assert all(p.requires_grad and p.is_leaf for p in layer.parameters())


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_default_is_float32(name):
    assert {p.dtype for p in LAYERS[name]().parameters()} == {dtypes.float32}


def test_float64_layer_keeps_pytorch_initialisation_bounds():
    layer = nn.Linear(16, 8, dtype=dtypes.float64)
    bound = 1 / np.sqrt(16)
    assert np.abs(layer.weight.numpy()).max() <= bound
    assert np.abs(layer.bias.numpy()).max() <= bound
    assert layer.weight.numpy().std() > bound / 4  # filled, not left at zero
