"""Activations and softmax against NumPy formulas (written here, independently of the
kernels' reference), with gradcheck and gradgradcheck."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as hst

from tests.helpers import check_op
from tinygrad_nv import Tensor
from tinygrad_nv.testing import strategies as st

_erf = np.vectorize(math.erf)


def _sigmoid(a):
    return 1 / (1 + np.exp(-a))


ACTIVATIONS = {
    "relu": (lambda x: x.relu(), lambda a: np.maximum(a, 0), (0.0,)),
    "leaky_relu": (lambda x: x.leaky_relu(0.1), lambda a: np.where(a > 0, a, 0.1 * a), (0.0,)),
    "sigmoid": (lambda x: x.sigmoid(), _sigmoid, ()),
    "tanh": (lambda x: x.tanh(), np.tanh, ()),
    "gelu": (lambda x: x.gelu(), lambda a: 0.5 * a * (1 + _erf(a / math.sqrt(2))), ()),
    "gelu_tanh": (lambda x: x.gelu(approximate="tanh"),
                  lambda a: 0.5 * a * (1 + np.tanh(math.sqrt(2 / math.pi)
                                                   * (a + 0.044715 * a**3))), ()),
    "silu": (lambda x: x.silu(), lambda a: a * _sigmoid(a), ()),
    "softplus": (lambda x: x.softplus(), lambda a: np.log1p(np.exp(a)), ()),
    "softplus_beta": (lambda x: x.softplus(beta=2.0), lambda a: np.log1p(np.exp(2 * a)) / 2, ()),
    "elu": (lambda x: x.elu(alpha=0.7), lambda a: np.where(a > 0, a, 0.7 * np.expm1(a)), (0.0,)),
}


@pytest.mark.parametrize("name", list(ACTIVATIONS))
@given(data=hst.data())
def test_activation(name, data, device):
    fn, ref, avoid = ACTIVATIONS[name]
    x = data.draw(st.tensors(shape=st.shapes(max_dims=3), avoid=avoid, margin=0.05,
                             device=device))
    check_op(fn, ref, x)


def test_softplus_is_linear_past_the_threshold(device):
    x = Tensor([25.0, 30.0], device=device, requires_grad=True)
    y = x.softplus()
    np.testing.assert_array_equal(y.numpy(), [25.0, 30.0])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 1.0])


def test_sigmoid_is_stable_for_large_inputs(device):
    x = Tensor([-1000.0, 1000.0], device=device)
    np.testing.assert_array_equal(x.sigmoid().numpy(), [0.0, 1.0])


def _softmax(a, axis):
    e = np.exp(a - a.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


@pytest.mark.parametrize("log", [False, True])
@given(data=hst.data())
def test_softmax(log, data, device):
    x = data.draw(st.tensors(shape=st.shapes(min_dims=1, max_dims=3), device=device))
    axis = data.draw(hst.integers(-x.ndim, x.ndim - 1))
    if log:
        check_op(lambda t: t.log_softmax(axis), lambda a: np.log(_softmax(a, axis)), x)
    else:
        check_op(lambda t: t.softmax(dim=axis), lambda a: _softmax(a, axis), x)


def test_softmax_of_huge_logits_is_finite(device):
    x = Tensor([[1000.0, 1000.0, -1000.0]], device=device)
    np.testing.assert_allclose(x.softmax().numpy(), [[0.5, 0.5, 0.0]])
    np.testing.assert_allclose(x.log_softmax().numpy()[0, :2], [-math.log(2)] * 2, rtol=1e-6)
