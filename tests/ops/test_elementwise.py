"""Elementwise ops: forward vs NumPy, gradcheck and gradgradcheck on drawn shapes."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as hst

from tests.helpers import check_op
from tinygrad_nv import Tensor, dtypes
from tinygrad_nv.ops.elementwise import unbroadcast
from tinygrad_nv.testing import strategies as st

BINARY = {
    "add": (lambda a, b: a + b, np.add),
    "sub": (lambda a, b: a - b, np.subtract),
    "mul": (lambda a, b: a * b, np.multiply),
    "div": (lambda a, b: a / b, np.divide),
    "maximum": (lambda a, b: a.maximum(b), np.maximum),
    "minimum": (lambda a, b: a.minimum(b), np.minimum),
}


@pytest.mark.parametrize("name", list(BINARY))
@given(data=hst.data())
def test_binary_broadcasting(name, data, device):
    fn, ref = BINARY[name]
    shape_a, shape_b = data.draw(st.broadcastable_shapes())
    a = data.draw(st.tensors(shape_a, device=device))
    b = data.draw(st.tensors(shape_b, avoid=(0.0,), margin=0.3, device=device))  # div
    if name in ("maximum", "minimum"):  # on two offset grids: |a - b| >= 0.1, no kinks
        a = Tensor(np.round(a.numpy() * 4) / 4 + 0.1, device=device)
        b = Tensor(np.round(b.numpy() * 4) / 4 - 0.02, device=device)
    check_op(fn, ref, a, b)


@given(data=hst.data())
def test_pow(data, device):
    shape_a, shape_b = data.draw(st.broadcastable_shapes())
    a = data.draw(st.tensors(shape_a, low=0.2, high=3.0, device=device))
    b = data.draw(st.tensors(shape_b, low=-2.0, high=2.0, avoid=(0.0,), device=device))
    check_op(lambda x, y: x**y, np.power, a, b)


@pytest.mark.parametrize("scalar", [2, 0.5, -1.5])
def test_python_scalars_on_both_sides(scalar, device):
    x = Tensor(np.linspace(0.5, 2.0, 6).reshape(2, 3), device=device)
    for fn, ref in [(lambda t: t + scalar, lambda a: a + scalar),
                    (lambda t: scalar + t, lambda a: scalar + a),
                    (lambda t: scalar - t, lambda a: scalar - a),
                    (lambda t: scalar * t, lambda a: scalar * a),
                    (lambda t: scalar / t, lambda a: scalar / a),
                    (lambda t: t / scalar, lambda a: a / scalar),
                    (lambda t: t**scalar, lambda a: a**scalar),
                    (lambda t: abs(scalar)**t, lambda a: abs(scalar)**a)]:
        check_op(fn, ref, x)


def test_maximum_ties_split_gradient_evenly(device):
    a = Tensor([1.0, 2.0, 3.0], requires_grad=True, device=device)
    b = Tensor([1.0, 5.0, 0.0], requires_grad=True, device=device)
    a.maximum(b).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), [0.5, 0.0, 1.0])
    np.testing.assert_allclose(b.grad.numpy(), [0.5, 1.0, 0.0])


UNARY = {
    # name: (fn, reference, value range, points to stay away from)
    "neg": (lambda x: -x, np.negative, (-3, 3), ()),
    "exp": (lambda x: x.exp(), np.exp, (-3, 3), ()),
    "log": (lambda x: x.log(), np.log, (0.1, 4), ()),
    "sqrt": (lambda x: x.sqrt(), np.sqrt, (0.1, 4), ()),
    "rsqrt": (lambda x: x.rsqrt(), lambda a: 1 / np.sqrt(a), (0.1, 4), ()),
    "sin": (lambda x: x.sin(), np.sin, (-3, 3), ()),
    "cos": (lambda x: x.cos(), np.cos, (-3, 3), ()),
    "reciprocal": (lambda x: x.reciprocal(), np.reciprocal, (-3, 3), (0.0,)),
    "square": (lambda x: x.square(), np.square, (-3, 3), ()),
    "abs": (lambda x: x.abs(), np.abs, (-3, 3), (0.0,)),
    "sign": (lambda x: x.sign(), np.sign, (-3, 3), (0.0,)),
    "clip": (lambda x: x.clip(-1.0, 0.5), lambda a: np.clip(a, -1.0, 0.5), (-3, 3), (-1, 0.5)),
    "clip_low": (lambda x: x.clip(min=0.0), lambda a: np.maximum(a, 0.0), (-3, 3), (0.0,)),
}


@pytest.mark.parametrize("name", list(UNARY))
@given(data=hst.data())
def test_unary(name, data, device):
    fn, ref, (low, high), avoid = UNARY[name]
    x = data.draw(st.tensors(low=low, high=high, avoid=avoid, margin=0.05, device=device))
    check_op(fn, ref, x)


def test_sign_gradient_is_zero(device):
    x = Tensor([-2.0, 0.0, 3.0], requires_grad=True, device=device)
    x.sign().sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 0.0])


def test_clip_gradient_includes_bounds(device):
    x = Tensor([-2.0, -1.0, 0.0, 1.0, 2.0], requires_grad=True, device=device)
    x.clip(-1.0, 1.0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0, 1, 1, 1, 0])


@given(data=hst.data())
def test_where(data, device):
    shape_c, shape_a, shape_b = data.draw(st.broadcastable_shapes(num_shapes=3))
    cond = data.draw(st.tensors(shape_c, dtype=dtypes.bool, device=device))
    a = data.draw(st.tensors(shape_a, device=device))
    b = data.draw(st.tensors(shape_b, device=device))
    check_op(lambda x, y: cond.where(x, y), lambda x, y: np.where(cond.numpy(), x, y), a, b)


def test_where_with_scalars(device):
    x = Tensor([-1.0, 2.0, -3.0], device=device, requires_grad=True)
    out = Tensor.where(x > 0, x, 0.0)
    np.testing.assert_array_equal(out.numpy(), [0.0, 2.0, 0.0])
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 1.0, 0.0])


@given(shapes=st.broadcastable_shapes())
def test_unbroadcast_is_the_adjoint_of_expand(shapes):
    small, big = shapes[0], np.broadcast_shapes(*shapes)
    g = Tensor(np.random.default_rng(0).standard_normal(big))
    expected = np.broadcast_to(np.zeros(small), big)  # shape check below
    reduced = unbroadcast(g, small)
    assert reduced.shape == small
    # <expand(x), g> == <x, unbroadcast(g)> for a random x
    x = np.random.default_rng(1).standard_normal(small)
    lhs = float((np.broadcast_to(x, big) * g.numpy()).sum())
    rhs = float((x * reduced.numpy()).sum())
    assert expected.shape == big
    np.testing.assert_allclose(lhs, rhs, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("op", ["__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__"])
def test_comparisons(op, device):
    a = np.array([[1.0, 2.0, 3.0]])
    b = np.array([[2.0], [1.0]])
    got = getattr(Tensor(a, device=device), op)(Tensor(b, device=device))
    assert got.dtype == dtypes.bool and not got.requires_grad
    np.testing.assert_array_equal(got.numpy(), getattr(a, op)(b))
    np.testing.assert_array_equal(getattr(Tensor(a, device=device), op)(2.0).numpy(),
                                  getattr(a, op)(2.0))


@pytest.mark.parametrize("left,right,expected", [
    (dtypes.float32, dtypes.float64, dtypes.float64),
    (dtypes.int32, dtypes.int64, dtypes.int64),
    (dtypes.int32, dtypes.float32, dtypes.float64),  # NumPy's promotion
    (dtypes.float16, dtypes.float32, dtypes.float32),
    (dtypes.bool, dtypes.int32, dtypes.int32),
])
def test_tensor_tensor_promotion_follows_numpy(left, right, expected, device):
    a = Tensor.ones(2, dtype=left, device=device)
    b = Tensor.ones(2, dtype=right, device=device)
    assert (a + b).dtype == expected == np.result_type(left, right)


@pytest.mark.parametrize("dtype,scalar,expected", [
    (dtypes.float16, 2.5, dtypes.float16),
    (dtypes.float32, 2, dtypes.float32),
    (dtypes.int32, 3, dtypes.int32),
    (dtypes.int32, 0.5, dtypes.float32),
    (dtypes.bool, 1, dtypes.int64),
])
def test_python_scalars_do_not_widen(dtype, scalar, expected, device):
    t = Tensor.ones(3, dtype=dtype, device=device)
    assert (t * scalar).dtype == expected
    assert (scalar * t).dtype == expected


def test_integer_division_is_true_division(device):
    a = Tensor([1, 2, 3], device=device)
    out = a / 2
    assert out.dtype == dtypes.float32
    np.testing.assert_allclose(out.numpy(), [0.5, 1.0, 1.5])


DIVISIONS = {
    "floor_divide": (lambda a, b: a // b, np.floor_divide),
    "remainder": (lambda a, b: a % b, np.remainder),
    "fmod": (lambda a, b: a.fmod(b), np.fmod),
}


@pytest.mark.parametrize("name", list(DIVISIONS))
@given(data=hst.data())
def test_division_family_on_floats(name, data, device):
    """Values and gradients away from the jumps: a = b * q with q at least 0.1 from an
    integer (PyTorch's gradients: remainder d/db = -floor(a/b), fmod d/db = -trunc(a/b),
    floor_divide none)."""
    fn, ref = DIVISIONS[name]
    shape_a, shape_b = data.draw(st.broadcastable_shapes())
    b = data.draw(st.tensors(shape_b, low=-2.0, high=2.0, avoid=(0.0,), margin=0.5,
                             device=device))
    whole = np.broadcast_shapes(shape_a, shape_b)
    q = data.draw(st.tensors(whole, low=-3.0, high=3.0, device=device)).numpy()
    q = np.floor(q) + 0.1 + 0.8 * (q - np.floor(q))
    a = Tensor(b.numpy() * q, device=device)
    check_op(fn, ref, a, b)


@pytest.mark.parametrize("name", list(DIVISIONS))
@given(data=hst.data())
def test_division_family_on_integers(name, data, device):
    fn, ref = DIVISIONS[name]
    shape_a, shape_b = data.draw(st.broadcastable_shapes())
    a = data.draw(st.tensors(shape_a, dtype=dtypes.int64, low=-50, high=50, device=device))
    b = data.draw(st.tensors(shape_b, dtype=dtypes.int64, low=1, high=7, device=device))
    b = b * Tensor(np.where(np.arange(b.numel()).reshape(b.shape) % 2, -1, 1), device=device)
    out = fn(a, b)
    assert out.dtype == dtypes.int64
    np.testing.assert_array_equal(out.numpy(), ref(a.numpy(), b.numpy()))


def test_division_family_signs_and_reflected_forms(device):
    a = Tensor([-7, 7, -7, 7], device=device)
    b = Tensor([2, 2, -2, -2], device=device)
    np.testing.assert_array_equal((a // b).numpy(), [-4, 3, 3, -4])
    np.testing.assert_array_equal((a % b).numpy(), [1, 1, -1, -1])  # sign of the divisor
    np.testing.assert_array_equal(a.fmod(b).numpy(), [-1, 1, -1, 1])  # sign of the dividend
    np.testing.assert_array_equal((7 // b).numpy(), [3, 3, -4, -4])
    np.testing.assert_array_equal((7 % b).numpy(), [1, 1, -1, -1])
    np.testing.assert_allclose((7.5 // Tensor([2.0, -2.0], device=device)).numpy(), [3, -4])
    np.testing.assert_allclose((Tensor([5.5, -5.5], device=device) % 2).numpy(), [1.5, 0.5])
    small = Tensor(np.array([7, -7], dtype=np.int8), device=device)
    assert (small // 2).dtype == (small % 3).dtype == small.fmod(3).dtype == dtypes.int8


def test_division_family_gradients_match_pytorch_formulas(device):
    a = Tensor([5.0, -5.0, 5.0, -5.0], dtype=dtypes.float64, requires_grad=True, device=device)
    b = Tensor([3.0, 3.0, -3.0, -3.0], dtype=dtypes.float64, requires_grad=True, device=device)
    (a % b).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [1, 1, 1, 1])
    np.testing.assert_array_equal(b.grad.numpy(), [-1, 2, 2, -1])  # -floor(a / b)
    a.grad = b.grad = None
    a.fmod(b).sum().backward()
    np.testing.assert_array_equal(b.grad.numpy(), [-1, 1, 1, -1])  # -trunc(a / b)
    a.grad = b.grad = None
    (a // b).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [0, 0, 0, 0])
    np.testing.assert_array_equal(b.grad.numpy(), [0, 0, 0, 0])


def test_division_by_zero(device):
    for fn in (lambda a, b: a // b, lambda a, b: a % b, lambda a, b: a.fmod(b),
               lambda a, b: 5 // b):
        if device != "cpu":  # checked on the CPU only: on a GPU it would wait for the device
            continue
        with pytest.raises(RuntimeError, match="integer division by zero"):
            fn(Tensor([1, 2], device=device), Tensor([1, 0], device=device))
    with np.errstate(divide="ignore", invalid="ignore"):
        x = Tensor([1.0, -1.0, 0.0], device=device)
        np.testing.assert_array_equal((x // 0.0).numpy(), [np.inf, -np.inf, np.nan])
        assert np.isnan((x % 0.0).numpy()).all() and np.isnan(x.fmod(0.0).numpy()).all()


@pytest.mark.parametrize("dtype,scalar,expected", [
    (dtypes.uint8, 300, [45, 46]), (dtypes.uint8, -2, [255, 0]),
    (dtypes.int8, 1000, [-23, -22]), (dtypes.int16, -70000, [-4463, -4462]),
])
def test_integer_scalars_wrap_like_pytorch(dtype, scalar, expected, device):
    t = Tensor(np.array([1, 2]).astype(dtype), device=device)
    out = t + scalar
    assert out.dtype == dtype
    np.testing.assert_array_equal(out.numpy(), expected)


@pytest.mark.parametrize("left,right,expected", [
    (dtypes.int8, dtypes.uint8, dtypes.int16), (dtypes.uint8, dtypes.int32, dtypes.int32),
    (dtypes.bool, dtypes.uint8, dtypes.uint8), (dtypes.int16, dtypes.float32, dtypes.float32),
    (dtypes.uint8, dtypes.float16, dtypes.float16),
])
def test_small_integer_promotion_follows_numpy(left, right, expected, device):
    a = Tensor.ones(2, dtype=left, device=device)
    b = Tensor.ones(2, dtype=right, device=device)
    assert (a + b).dtype == expected == np.result_type(left, right)


@pytest.mark.parametrize("mode,ref", [("trunc", lambda a, b: np.trunc(a / b)),
                                      ("floor", lambda a, b: np.floor(a / b))])
def test_div_rounding_modes(mode, ref, device):
    a = np.array([-7, 7, -7, 7, 2**62 + 3, 0])
    b = np.array([2, 2, -2, -2, -3, 5])
    got = Tensor(a, device=device).div(Tensor(b, device=device), rounding_mode=mode)
    assert got.dtype == dtypes.int64
    expected = ref(a[:4], b[:4]).tolist() + [(2**62 + 3) // -3 + (mode == "trunc"), 0]
    assert got.tolist() == expected  # exact beyond float64's 53 bits
    x = Tensor([-7.5, 7.5, 0.5], dtype=dtypes.float64, requires_grad=True, device=device)
    out = x.div(2.0, rounding_mode=mode)
    np.testing.assert_array_equal(out.numpy(), ref(np.array([-7.5, 7.5, 0.5]), 2.0))
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 0.0])
    if device == "cpu":  # checked on the CPU only (see test_division_by_zero)
        with pytest.raises(RuntimeError, match="div: integer division by zero"):
            Tensor([1], device=device).div(0, rounding_mode=mode)
    with pytest.raises(ValueError, match="rounding_mode must be None, 'trunc' or 'floor'"):
        x.div(2.0, rounding_mode="round")


def test_unary_plus_is_the_tensor_itself(device):
    x = Tensor([1.0, -2.0], requires_grad=True, device=device)
    assert +x is x and x.positive() is x
