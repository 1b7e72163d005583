"""nn.utils.parameters_to_vector and vector_to_parameters: order, sharing, gradients, errors."""

import numpy as np
import pytest

import tinygrad_nv.nn as nn
from tinygrad_nv import Tensor
from tinygrad_nv.testing import gradcheck


def test_round_trip_in_parameter_order():
    model = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1, bias=False))
    params = list(model.parameters())
    vec = nn.utils.parameters_to_vector(params)
    expected = np.concatenate([p.numpy().ravel() for p in params])
    np.testing.assert_array_equal(vec.numpy(), expected)
    nn.utils.vector_to_parameters(Tensor(np.arange(expected.size, dtype=np.float32)), params)
    np.testing.assert_array_equal(model[0].weight.numpy(), np.arange(6).reshape(2, 3))
    np.testing.assert_array_equal(model[0].bias.numpy(), [6, 7])
    np.testing.assert_array_equal(model[1].weight.numpy(), [[8, 9]])
    assert all(p.requires_grad and p.is_leaf for p in model.parameters())


def test_parameters_share_the_vector_storage_as_in_pytorch():
    p = Tensor.zeros(2, 2, requires_grad=True)
    vec = Tensor(np.arange(4.0))
    nn.utils.vector_to_parameters(vec, [p])
    vec._data[0] = 10.0
    assert p.numpy()[0, 0] == 10.0


def test_parameters_to_vector_is_differentiable():
    a, b = Tensor(np.ones((2, 2)), requires_grad=True), Tensor(np.ones(3), requires_grad=True)
    assert gradcheck(lambda x, y: nn.utils.parameters_to_vector([x, y]) ** 2, [a, b])


def test_bad_input():
    with pytest.raises(TypeError, match="expected a Tensor"):
        nn.utils.vector_to_parameters([1.0, 2.0], [Tensor.zeros(2)])
    with pytest.raises(ValueError, match="5 elements"):
        nn.utils.vector_to_parameters(Tensor.zeros(4), [Tensor.zeros(5)])
    with pytest.raises(ValueError, match="no parameters"):
        nn.utils.parameters_to_vector([])
    with pytest.raises(TypeError, match="expected Tensors"):
        nn.utils.parameters_to_vector([np.zeros(2)])


def test_against_torch():
    torch = pytest.importorskip("torch")
    ours = [Tensor(np.arange(6.0).reshape(2, 3)), Tensor(np.ones(2))]
    theirs = [torch.tensor(p.numpy()) for p in ours]
    np.testing.assert_array_equal(nn.utils.parameters_to_vector(ours).numpy(),
                                  torch.nn.utils.parameters_to_vector(theirs).numpy())
