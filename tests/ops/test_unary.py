"""Unary math (ops/unary.py): forward vs NumPy, gradcheck and gradgradcheck on drawn shapes,
edge values (0-d, empty, +-inf, NaN, integer inputs) and bad arguments."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as hst

from tests.helpers import check_op
from tinygrad_nv import Tensor, dtypes
from tinygrad_nv.testing import strategies as st

_erf = np.vectorize(math.erf)
_INTEGERS = tuple(float(k) for k in range(-3, 4))
_HALVES = tuple(k + 0.5 for k in range(-4, 4))

UNARY = {
    # name: (fn, reference, value range, points to stay away from)
    "exp2": (lambda x: x.exp2(), np.exp2, (-3, 3), ()),
    "expm1": (lambda x: x.expm1(), np.expm1, (-3, 3), ()),
    "log2": (lambda x: x.log2(), np.log2, (0.1, 4), ()),
    "log10": (lambda x: x.log10(), np.log10, (0.1, 4), ()),
    "log1p": (lambda x: x.log1p(), np.log1p, (-0.9, 3), ()),
    "tan": (lambda x: x.tan(), np.tan, (-1.2, 1.2), ()),
    "asin": (lambda x: x.asin(), np.arcsin, (-0.9, 0.9), ()),
    "acos": (lambda x: x.acos(), np.arccos, (-0.9, 0.9), ()),
    "atan": (lambda x: x.atan(), np.arctan, (-3, 3), ()),
    "sinh": (lambda x: x.sinh(), np.sinh, (-3, 3), ()),
    "cosh": (lambda x: x.cosh(), np.cosh, (-3, 3), ()),
    "asinh": (lambda x: x.asinh(), np.arcsinh, (-3, 3), ()),
    "acosh": (lambda x: x.acosh(), np.arccosh, (1.1, 4), ()),
    "atanh": (lambda x: x.atanh(), np.arctanh, (-0.9, 0.9), ()),
    "erf": (lambda x: x.erf(), _erf, (-3, 3), ()),
    "erfc": (lambda x: x.erfc(), lambda a: 1 - _erf(a), (-3, 3), ()),
    "frac": (lambda x: x.frac(), lambda a: a - np.trunc(a), (-3, 3), _INTEGERS),
    # piecewise constant: values (and the zero gradient) away from the jumps
    "floor": (lambda x: x.floor(), np.floor, (-3, 3), _INTEGERS),
    "ceil": (lambda x: x.ceil(), np.ceil, (-3, 3), _INTEGERS),
    "trunc": (lambda x: x.trunc(), np.trunc, (-3, 3), _INTEGERS),
    "round": (lambda x: x.round(), np.round, (-3, 3), _HALVES),
    "round_decimals": (lambda x: x.round(decimals=1), lambda a: np.round(a, 1), (-3, 3),
                       tuple(k / 10 + 0.05 for k in range(-31, 31))),
}
FLOAT_VALUED = [n for n in UNARY if n not in ("floor", "ceil", "trunc", "round",
                                              "round_decimals", "frac")]


@pytest.mark.parametrize("name", list(UNARY))
@given(data=hst.data())
def test_unary(name, data, device):
    fn, ref, (low, high), avoid = UNARY[name]
    x = data.draw(st.tensors(low=low, high=high, avoid=avoid, margin=0.02, device=device))
    check_op(fn, ref, x)


@pytest.mark.parametrize("name", ["floor", "ceil", "trunc", "round"])
def test_rounding_has_zero_gradient_and_keeps_integers(name, device):
    x = Tensor([-1.5, -0.2, 0.0, 0.7, 2.5], requires_grad=True, device=device)
    getattr(x, name)().sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros(5))
    for dtype in (dtypes.int8, dtypes.uint8, dtypes.int16, dtypes.int32, dtypes.int64):
        ints = Tensor(np.array([-3, 0, 7]).astype(dtype), device=device)
        out = getattr(ints, name)()
        assert out.dtype == dtype
        np.testing.assert_array_equal(out.numpy(), ints.numpy())


def test_round_is_half_to_even_with_decimals(device):
    x = Tensor([0.5, 1.5, 2.5, -0.5, -2.5, 3.49], device=device)
    np.testing.assert_array_equal(x.round().numpy(), [0.0, 2.0, 2.0, -0.0, -2.0, 3.0])
    y = Tensor([1234.5678, -25.0, 15.0], dtype=dtypes.float64, device=device)
    np.testing.assert_allclose(y.round(decimals=2).numpy(), [1234.57, -25.0, 15.0])
    np.testing.assert_allclose(y.round(decimals=-1).numpy(), [1230.0, -20.0, 20.0])
    np.testing.assert_allclose(y.round(decimals=-2).numpy(), [1200.0, -0.0, 0.0])


@pytest.mark.parametrize("name", FLOAT_VALUED)
def test_integer_inputs_give_float32(name, device):
    fn, ref, (low, high), _ = UNARY[name]
    ints = [math.ceil(low), math.floor(high)]
    out = fn(Tensor(ints, device=device))
    assert out.dtype == dtypes.float32
    np.testing.assert_allclose(out.numpy(), ref(np.array(ints, dtype=np.float64)), rtol=1e-6)


def test_edge_values(device):
    inf, nan = math.inf, math.nan
    x = Tensor([-inf, -0.0, 0.0, inf, nan], dtype=dtypes.float64, device=device)
    np.testing.assert_array_equal(x.erf().numpy(), [-1.0, -0.0, 0.0, 1.0, nan])
    np.testing.assert_array_equal(x.erfc().numpy(), [2.0, 1.0, 1.0, 0.0, nan])
    np.testing.assert_array_equal(x.exp2().numpy(), [0.0, 1.0, 1.0, inf, nan])
    np.testing.assert_array_equal(x.expm1().numpy(), [-1.0, -0.0, 0.0, inf, nan])
    np.testing.assert_array_equal(x.floor().numpy(), [-inf, -0.0, 0.0, inf, nan])
    np.testing.assert_array_equal(x.atan().numpy(), [-math.pi / 2, -0.0, 0.0, math.pi / 2, nan])
    with np.errstate(divide="ignore", invalid="ignore"):
        ends = Tensor([-1.0, 1.0], dtype=dtypes.float64, device=device)
        np.testing.assert_array_equal(ends.atanh().numpy(), [-inf, inf])
        np.testing.assert_array_equal(ends.log1p().numpy(), [-inf, math.log(2)])
        assert np.isnan(Tensor([2.0], device=device).asin().numpy()).all()
    tiny = Tensor([1e-12], dtype=dtypes.float64, device=device)
    np.testing.assert_allclose(tiny.expm1().numpy(), [1e-12], rtol=1e-12)
    np.testing.assert_allclose(tiny.log1p().numpy(), [1e-12], rtol=1e-12)


@pytest.mark.parametrize("name", list(UNARY))
def test_zero_dim_and_empty(name, device):
    fn, ref, (low, high), _ = UNARY[name]
    scalar = Tensor((low + high) / 2 + 0.03, dtype=dtypes.float64, device=device)
    assert fn(scalar).shape == ()
    np.testing.assert_allclose(fn(scalar).numpy(), ref(scalar.numpy()), rtol=1e-12)
    empty = Tensor.zeros(0, 3, dtype=dtypes.float64, device=device)
    assert fn(empty).shape == (0, 3)


BINARY = {
    "atan2": (lambda a, b: a.atan2(b), np.arctan2),
    "logaddexp": (lambda a, b: a.logaddexp(b), np.logaddexp),
    "logaddexp2": (lambda a, b: a.logaddexp2(b), np.logaddexp2),
    "copysign": (lambda a, b: a.copysign(b), np.copysign),
    "hypot": (lambda a, b: a.hypot(b), np.hypot),
    "lerp_scalar": (lambda a, b: a.lerp(b, 0.3), lambda a, b: a + 0.3 * (b - a)),
    "lerp_high_weight": (lambda a, b: a.lerp(b, 0.8), lambda a, b: a + 0.8 * (b - a)),
}


@pytest.mark.parametrize("name", list(BINARY))
@given(data=hst.data())
def test_binary_broadcasting(name, data, device):
    fn, ref = BINARY[name]
    shape_a, shape_b = data.draw(st.broadcastable_shapes())
    # copysign and hypot have kinks where a == 0; copysign flips where b == 0
    a = data.draw(st.tensors(shape_a, avoid=(0.0,), margin=0.1, device=device))
    b = data.draw(st.tensors(shape_b, avoid=(0.0,), margin=0.1, device=device))
    check_op(fn, ref, a, b)


@given(data=hst.data())
def test_lerp_with_a_tensor_weight(data, device):
    shape_a, shape_b, shape_w = data.draw(st.broadcastable_shapes(num_shapes=3))
    a = data.draw(st.tensors(shape_a, device=device))
    b = data.draw(st.tensors(shape_b, device=device))
    w = data.draw(st.tensors(shape_w, low=-0.5, high=1.5, avoid=(0.5,), device=device))
    check_op(lambda x, y, z: x.lerp(y, z), lambda x, y, z: x + z * (y - x), a, b, w)


def test_lerp_is_exact_at_both_ends(device):
    start = Tensor([0.1, 1e8], dtype=dtypes.float64, device=device)
    end = Tensor([0.7, 3.0], dtype=dtypes.float64, device=device)
    np.testing.assert_array_equal(start.lerp(end, 0.0).numpy(), start.numpy())
    np.testing.assert_array_equal(start.lerp(end, 1.0).numpy(), end.numpy())
    np.testing.assert_array_equal(start.lerp(end, Tensor([1.0, 1.0], device=device)).numpy(),
                                  end.numpy())


def test_binary_gradients_at_special_points(device):
    a = Tensor([0.0, 2.0, -0.0, 0.0], dtype=dtypes.float64, requires_grad=True, device=device)
    b = Tensor([0.0, -1.0, 3.0, -0.0], dtype=dtypes.float64, requires_grad=True, device=device)
    a.atan2(b).sum().backward()  # the origin: 0, as PyTorch
    np.testing.assert_allclose(a.grad.numpy(), [0.0, -0.2, 1 / 3, 0.0])
    np.testing.assert_allclose(b.grad.numpy(), [0.0, -0.4, 0.0, 0.0])
    a.grad = b.grad = None
    out = a.copysign(b)
    np.testing.assert_array_equal(np.signbit(out.numpy()), [False, True, False, True])
    out.sum().backward()  # no gradient to a where a == 0, none ever to b
    np.testing.assert_array_equal(a.grad.numpy(), [0.0, -1.0, 0.0, 0.0])
    np.testing.assert_array_equal(b.grad.numpy(), [0.0, 0.0, 0.0, 0.0])
    lo = Tensor([-math.inf, 0.0], dtype=dtypes.float64, device=device)
    np.testing.assert_array_equal(lo.logaddexp(Tensor([-math.inf, -math.inf],
                                                      device=device)).numpy(), [-math.inf, 0])


def test_binary_float_results_from_integers(device):
    a, b = Tensor([3, -4], device=device), Tensor([4, 3], device=device)
    for name in ("atan2", "logaddexp", "logaddexp2", "copysign", "hypot"):
        assert getattr(a, name)(b).dtype == dtypes.float32
    np.testing.assert_allclose(a.hypot(b).numpy(), [5.0, 5.0])
    np.testing.assert_allclose(a.copysign(-1).numpy(), [-3.0, -4.0])
    np.testing.assert_allclose(Tensor([1.0], device=device).atan2(2).numpy(),
                               [math.atan2(1, 2)], rtol=1e-6)


@pytest.mark.parametrize("fn,exc,pattern", [
    (lambda d: Tensor([1, 2], device=d).frac(), TypeError, "frac: needs a floating point"),
    (lambda d: Tensor([1, 2], device=d).round(decimals=1), TypeError,
     "round: decimals=1 needs a floating point tensor, got int64"),
    (lambda d: Tensor([1.0], device=d).round(decimals=0.5), TypeError, "decimals must be an int"),
    (lambda d: Tensor([1.0, 2.0], device=d).lerp(Tensor([3.0, 4.0], device=d),
                                                 Tensor([0.5, 0.7, 0.1], device=d)),
     ValueError, r"lerp: shapes \(2,\) \(start\), \(2,\) \(end\) and \(3,\) \(weight\)"),
    (lambda d: Tensor([1.0], device=d).lerp(Tensor([3.0], device=d), "x"), TypeError,
     "lerp: unsupported operand type str"),
    (lambda d: Tensor([1.0], device=d).atan2("x"), TypeError, "atan2: unsupported operand"),
    (lambda d: Tensor.ones(2, 3, device=d).hypot(Tensor.ones(4, device=d)), ValueError,
     r"\(2, 3\).*\(4,\)"),
])
def test_bad_arguments(fn, exc, pattern, device):
    with pytest.raises(exc, match=pattern):
        fn(device)


def test_against_torch(device):
    torch = pytest.importorskip("torch")
    values = np.array([-2.5, -1.0, -0.5, 0.0, 0.3, 0.5, 1.0, 1.5, 2.5])
    for name in ("exp2", "expm1", "tan", "atan", "sinh", "cosh", "asinh", "erf", "erfc",
                 "floor", "ceil", "round", "trunc", "frac"):
        x = Tensor(values, requires_grad=True, device=device)
        getattr(x, name)().sum().backward()
        tx = torch.tensor(values, requires_grad=True)
        getattr(torch, name)(tx).sum().backward()
        np.testing.assert_allclose(getattr(x, name)().numpy(),
                                   getattr(torch, name)(tx).detach().numpy(), rtol=1e-12)
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12, err_msg=name)


@pytest.mark.parametrize("name", ["floor", "ceil", "trunc", "round", "abs", "sign"])
def test_integer_limits_stay_exact(name, device):
    for dtype in (dtypes.int8, dtypes.uint8, dtypes.int16, dtypes.int32, dtypes.int64):
        info = np.iinfo(dtype)
        values = np.array([info.min + 1, info.max, 0], dtype=dtype)
        out = getattr(Tensor(values, device=device), name)()
        assert out.dtype == dtype
        np.testing.assert_array_equal(out.numpy(), getattr(np, name)(values))


def test_sign_of_nan_bool_and_square_of_bool_as_pytorch(device):
    """sign(NaN) is 0 and sign of a bool tensor is itself (NumPy: NaN, and no bool loop, whose
    error class could not even be rebuilt with a message); square of bools is int64."""
    for dtype in (dtypes.float32, dtypes.float64):
        x = Tensor([math.nan, -0.0, 0.0, 2.5, -math.inf], dtype=dtype, device=device,
                   requires_grad=True)
        out = x.sign()
        np.testing.assert_array_equal(out.numpy(), [0.0, 0.0, 0.0, 1.0, -1.0])
        assert out.dtype == dtype
        out.sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), np.zeros(5))
    flags = Tensor([True, False], device=device)
    assert flags.sign().dtype == dtypes.bool and flags.sign().tolist() == [True, False]
    assert flags.square().dtype == dtypes.int64 and flags.square().tolist() == [1, 0]
