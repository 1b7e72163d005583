"""threshold, hardshrink, softshrink, tanhshrink and rrelu against NumPy formulas (gradcheck
and gradgradcheck away from their kinks) and against torch (values and gradients, kinks and
NaN included)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as hst

import tinygrad_nv as tg
import tinygrad_nv.nn.functional as F
from tests.helpers import check_op
from tinygrad_nv import Tensor
from tinygrad_nv.testing import gradcheck
from tinygrad_nv.testing import strategies as st

OPS = {  # name: (ours, NumPy, torch's, points to keep away from)
    "threshold": (lambda x: F.threshold(x, 0.5, -2.0), lambda a: np.where(a > 0.5, a, -2.0),
                  lambda F, x: F.threshold(x, 0.5, -2.0), (0.5,)),
    "hardshrink": (lambda x: F.hardshrink(x, 0.7), lambda a: np.where(np.abs(a) > 0.7, a, 0.0),
                   lambda F, x: F.hardshrink(x, 0.7), (-0.7, 0.7)),
    "softshrink": (lambda x: F.softshrink(x), lambda a: np.where(
        a > 0.5, a - 0.5, np.where(a < -0.5, a + 0.5, 0.0)), lambda F, x: F.softshrink(x),
        (-0.5, 0.5)),
    "tanhshrink": (F.tanhshrink, lambda a: a - np.tanh(a), lambda F, x: F.tanhshrink(x), ()),
    "rrelu_eval": (lambda x: F.rrelu(x, 0.1, 0.3), lambda a: np.where(a >= 0, a, 0.2 * a),
                   lambda F, x: F.rrelu(x, 0.1, 0.3), (0.0,)),
}


@pytest.mark.parametrize("name", list(OPS))
@given(data=hst.data())
def test_against_numpy_with_gradients(name, data, device):
    fn, ref, _, avoid = OPS[name]
    x = data.draw(st.tensors(shape=st.shapes(max_dims=3), avoid=avoid, margin=0.05,
                             device=device))
    check_op(fn, ref, x)


@pytest.mark.parametrize("name", list(OPS))
def test_against_torch_at_the_kinks_and_nan(name, device):
    torch = pytest.importorskip("torch")
    fn, _, theirs, _ = OPS[name]
    values = [-2.0, -0.7, -0.5, -0.2, 0.0, 0.3, 0.5, 0.7, 1.5, float("nan")]
    x = Tensor(values, device=device, requires_grad=True)
    tx = torch.tensor(values, requires_grad=True)
    y, ty = fn(x), theirs(torch.nn.functional, tx)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-6, atol=1e-7)
    weights = [float(i + 1) for i in range(len(values) - 1)]  # the NaN element left out
    (y[:-1] * Tensor(weights, device=device)).sum().backward()
    (ty[:-1] * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy()[:-1], tx.grad.numpy()[:-1], rtol=1e-6)


def test_rrelu_training_draws_one_slope_per_negative_element(device):
    x = Tensor(-np.ones((200, 50)), device=device, requires_grad=True)
    y = F.rrelu(x, 0.1, 0.3, training=True)
    slopes = -y.numpy()
    assert 0.1 <= slopes.min() and slopes.max() < 0.3 and abs(slopes.mean() - 0.2) < 0.01
    assert len(np.unique(slopes)) > 1000
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), slopes)  # each element's own slope
    positive = Tensor([1.0, 2.0], device=device)
    assert F.rrelu(positive, training=True).tolist() == [1.0, 2.0]


def test_rrelu_training_gradcheck(device):
    x = Tensor(np.linspace(-2, 2, 8) + 0.01, device=device, requires_grad=True)
    tg.manual_seed(3)

    def fn(t):
        tg.manual_seed(3)  # the same slopes at every evaluation
        return F.rrelu(t, training=True)
    gradcheck(fn, [x])


def test_names_and_inplace_flag(device):
    assert tg.threshold is not None and tg.rrelu is not None and tg.hardshrink is not None
    x = Tensor([-1.0, 0.2, 1.0], device=device)
    assert x.hardshrink(0.5).tolist() == [-1.0, 0.0, 1.0]
    out = F.threshold(x, 0.5, 0.0, True)
    assert out.tolist() == [0.0, 0.0, 1.0] and x.tolist() == [0.0, 0.0, 1.0]
    y = Tensor([-1.0, 2.0], device=device)
    F.rrelu(y, 0.5, 0.5, inplace=True)
    assert y.tolist() == [-0.5, 2.0]


@pytest.mark.parametrize("call,exc,match", [
    (lambda x: F.softshrink(x, -1.0), ValueError, r"softshrink: lambd must be >= 0, got -1"),
    (lambda x: F.rrelu(x, 0.5, 0.1), ValueError, r"rrelu: lower \(0.5\) must be at most upper"),
    (lambda x: F.hardshrink(x.int()), TypeError, "hardshrink: needs a floating point"),
    (lambda x: F.tanhshrink(np.ones(2)), TypeError, "tanhshrink: .*Tensor.*got ndarray"),
])
def test_bad_inputs(call, exc, match):
    with pytest.raises(exc, match=match):
        call(Tensor([1.0, -1.0]))
