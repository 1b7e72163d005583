"""Bad sizes and arguments get clear errors naming the layer or op, where PyTorch raises too;
what PyTorch accepts we accept."""

import pytest

import tinygrad_nv
from tinygrad_nv import Tensor, nn

BAD = {  # PyTorch raises for each (RuntimeError or ValueError)
    "LayerNorm(-1)": lambda lib: lib.nn.LayerNorm(-1),
    "LayerNorm((2, -1))": lambda lib: lib.nn.LayerNorm((2, -1)),
    "RMSNorm(-1)": lambda lib: lib.nn.RMSNorm(-1),
    "Linear(-1, 2)": lambda lib: lib.nn.Linear(-1, 2),
    "Linear(2, -1)": lambda lib: lib.nn.Linear(2, -1),
    "Conv2d(3, -1, 3)": lambda lib: lib.nn.Conv2d(3, -1, 3),
    "Conv2d(-1, 3, 3)": lambda lib: lib.nn.Conv2d(-1, 3, 3),
    "Embedding(-1, 3)": lambda lib: lib.nn.Embedding(-1, 3),
    "Embedding(3, -1)": lambda lib: lib.nn.Embedding(3, -1),
    "BatchNorm1d(-1)": lambda lib: lib.nn.BatchNorm1d(-1),
    "GroupNorm(2, -4)": lambda lib: lib.nn.GroupNorm(2, -4),
    "LSTM(-1, 3)": lambda lib: lib.nn.LSTM(-1, 3),
    "GRU(3, -1)": lambda lib: lib.nn.GRU(3, -1),
    "MultiheadAttention(-4, 2)": lambda lib: lib.nn.MultiheadAttention(-4, 2),
}
ACCEPTED = {
    "LayerNorm(0)": lambda lib: lib.nn.LayerNorm(0),
    "LayerNorm((2, 3))": lambda lib: lib.nn.LayerNorm((2, 3)),
    "RMSNorm([4])": lambda lib: lib.nn.RMSNorm([4]),
}


@pytest.mark.parametrize("name", BAD)
def test_bad_sizes_raise_naming_the_layer(name):
    layer = name.split("(")[0]
    with pytest.raises((ValueError, RuntimeError), match=layer):
        BAD[name](tinygrad_nv)


@pytest.mark.parametrize("name", ACCEPTED)
def test_valid_sizes_accepted(name):
    ACCEPTED[name](tinygrad_nv)


@pytest.mark.parametrize("name", list(BAD) + list(ACCEPTED))
def test_raises_where_torch_raises(name):
    torch = pytest.importorskip("torch")
    build = {**BAD, **ACCEPTED}[name]
    try:
        build(torch)
    except (RuntimeError, ValueError):
        with pytest.raises((RuntimeError, ValueError)):
            build(tinygrad_nv)
    else:
        build(tinygrad_nv)


def test_layer_norm_negative_raises_runtime_error_as_torch():
    with pytest.raises(RuntimeError, match=r"LayerNorm: normalized_shape must hold sizes >= 0"):
        nn.LayerNorm(-1)


@pytest.mark.parametrize("weight", [[1.0, 2.0], None, 3.0])
def test_linear_with_a_non_tensor_weight_is_a_type_error(weight):
    with pytest.raises(TypeError, match="linear: argument 'weight' must be a Tensor"):
        Tensor.ones(2, 2).linear(weight)
    with pytest.raises(TypeError, match="linear: argument 'weight' must be a Tensor"):
        nn.functional.linear(Tensor.ones(2, 2), weight)


def test_linear_with_a_non_tensor_bias_is_a_type_error():
    with pytest.raises(TypeError, match="linear: argument 'bias' must be a Tensor"):
        Tensor.ones(2, 2).linear(Tensor.ones(3, 2), [1.0, 2.0, 3.0])
