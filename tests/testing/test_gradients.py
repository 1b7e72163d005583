"""gradcheck / gradgradcheck must catch wrong derivatives, and the strategies must draw
what they promise."""

import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as hst

from tinygrad_nv import Tensor
from tinygrad_nv.autograd import Function
from tinygrad_nv.testing import GradcheckError, gradcheck, gradgradcheck
from tinygrad_nv.testing import strategies as st


class WrongSquare(Function):
    """x^2 with the gradient 2x + 0.01 at the second element: subtly wrong."""

    def forward(self, x):
        return x * x

    def backward(self, g):
        x = self.parents[0]
        bump = x._like(self.xp.arange(x.numel()).reshape(x.shape) == 1) * 0.01
        return g * 2 * x + bump


class WrongSecondDerivative(Function):
    """sin(x) whose backward uses a constant cos(x): right first, wrong second derivative."""

    def forward(self, x):
        return self.xp.sin(x)

    def backward(self, g):
        return g * g._like(self.xp.cos(self.parents[0]._data))


def test_gradcheck_accepts_a_correct_gradient():
    assert gradcheck(lambda x, y: (x * y).sin(), [Tensor([0.5, 1.0]), Tensor([2.0, -1.0])])


def test_gradcheck_names_input_index_and_values():
    x = Tensor([0.3, 0.7, -0.2])
    with pytest.raises(GradcheckError, match=r"input 0 \(shape \(3,\)\).*index \(1,\).*"
                                             r"analytic.*numeric"):
        gradcheck(lambda t: WrongSquare.apply(t), [x])


def test_gradgradcheck_catches_a_wrong_second_derivative():
    x = Tensor([0.3, 0.7])
    assert gradcheck(lambda t: WrongSecondDerivative.apply(t), [x])
    with pytest.raises(GradcheckError):
        gradgradcheck(lambda t: WrongSecondDerivative.apply(t), [x])
    assert gradgradcheck(lambda t: t.sin(), [x])


def test_gradcheck_works_in_float64_from_float32_inputs():
    # float32 finite differences would fail at eps=1e-6; gradcheck promotes to float64
    assert gradcheck(lambda t: (t * t).exp(), [Tensor(np.float32([0.1, 0.2]))])


def test_gradcheck_skips_integer_inputs_and_needs_one_float():
    idx = Tensor([2, 0])
    assert gradcheck(lambda x, i: x[i] * 2, [Tensor([1.0, 2.0, 3.0]), idx])
    with pytest.raises(ValueError, match="no floating point tensor"):
        gradcheck(lambda i: i * 2, [idx])


class PlantedWrongTanh(Function):
    """tanh whose backward is 5% too large: the planted fault of the localisation tests."""

    def forward(self, x):
        return self.xp.tanh(x)

    def backward(self, g):
        return g * (1 - self.parents[0].tanh() ** 2) * 1.05


def _ten_ops(x: Tensor, y: Tensor, planted_at: int) -> Tensor:
    steps = [lambda t: t * 2.0, lambda t: t + y, lambda t: t.sin(), lambda t: t * y,
             lambda t: t.tanh(), lambda t: t - 0.3, lambda t: t.exp(), lambda t: t * t,
             lambda t: t.sigmoid(), lambda t: t.sum(0)]
    for i, step in enumerate(steps):
        x = PlantedWrongTanh.apply(x) if i == planted_at else step(x)
    return x


@pytest.mark.parametrize("planted_at", [0, 4, 8])
def test_gradcheck_names_the_planted_wrong_op_among_ten(planted_at):
    x = Tensor(np.random.default_rng(1).standard_normal((2, 3)) * 0.5)
    y = Tensor(np.random.default_rng(2).standard_normal(3) * 0.5)
    assert gradcheck(lambda a, b: _ten_ops(a, b, planted_at=-1), [x, y])
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda a, b: _ten_ops(a, b, planted_at), [x, y])
    message = str(info.value)
    assert "first op in forward order" in message
    assert "PlantedWrongTanh (inputs of shape (2, 3))" in message
    assert "np.float64" not in message and "projected" in message
    values = re.findall(r"analytic (\S+), numeric (\S+)", message.split("first op")[1])[0]
    analytic, numeric = (float(v) for v in values)
    assert analytic == pytest.approx(numeric * 1.05, rel=1e-4)


def test_gradcheck_blames_no_op_when_every_op_is_right():
    def detour(x: Tensor) -> Tensor:  # leaves the graph through NumPy: gradients are lost
        return Tensor(x.numpy() * 3.0) + x

    with pytest.raises(GradcheckError, match="Every op of the graph agrees"):
        gradcheck(detour, [Tensor([0.5, 1.0])])


def test_full_jacobian_mode_compares_element_by_element():
    x = Tensor([0.3, 0.7, -0.2])
    assert gradcheck(lambda t: (t * t[[1, 2, 0]]).exp(), [x], fast_mode=False)
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda t: WrongSquare.apply(t) * 1.0, [x], fast_mode=False)
    message = str(info.value)
    # WrongSquare's bump lands on d out[0] / d in[1], which should be 0
    assert "d output 0[0] / d input 0[1]" in message and "per element" in message
    assert re.search(r"analytic 0\.0099\d*, numeric 0\.0 ", message)
    assert "WrongSquare" in message.split("first op")[1]


def test_gradgradcheck_names_the_op_with_the_wrong_second_derivative():
    x = Tensor([0.3, 0.7])
    with pytest.raises(GradcheckError) as info:
        gradgradcheck(lambda t: WrongSecondDerivative.apply(t * 2.0).exp(), [x])
    message = str(info.value)
    assert "second derivatives" in message
    assert "double backward disagrees" in message and "WrongSecondDerivative" in message


@given(st.shapes(min_dims=1, max_dims=3, max_side=5))
def test_shapes_respect_bounds(shape):
    assert 1 <= len(shape) <= 3 and all(1 <= n <= 5 for n in shape)


@given(st.broadcastable_shapes(num_shapes=3))
def test_broadcastable_shapes_broadcast(shapes):
    assert len(shapes) == 3
    np.broadcast_shapes(*shapes)  # raises if they do not


@given(hst.data())
def test_tensors_avoid_points_and_ties(data):
    x = data.draw(st.tensors(low=-2, high=2, avoid=(0.0, 1.0), margin=0.05))
    values = x.numpy().reshape(-1)
    assert np.all(np.abs(values) >= 0.05 - 1e-12) and np.all(np.abs(values - 1) >= 0.05 - 1e-12)
    assert np.all(values >= -2 - 0.05) and np.all(values <= 2 + 0.05)
    if values.size > 1:
        gaps = np.diff(np.sort(values))
        assert gaps.min() > 1e-5


@given(hst.data())
def test_axes_are_valid_for_the_rank(data):
    ndim = data.draw(hst.integers(0, 4))
    axis = data.draw(st.axes(ndim))
    x = Tensor.zeros(*([2] * ndim))
    x.sum(axis)  # any drawn axis is accepted
