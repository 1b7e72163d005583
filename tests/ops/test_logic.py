"""Comparisons, value tests, logical and bitwise ops, shifts (ops/logic.py) against NumPy:
dtypes, broadcasting, Python numbers on either side, edge values and bad inputs."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as hst

from tinygrad_nv import Tensor, dtypes
from tinygrad_nv.testing import strategies as st

INF, NAN = math.inf, math.nan


@given(data=hst.data(), equal_nan=hst.booleans())
def test_isclose_matches_numpy(data, equal_nan, device):
    shape_a, shape_b = data.draw(st.broadcastable_shapes())
    a = data.draw(st.tensors(shape_a, device=device)).numpy()
    b = data.draw(st.tensors(shape_b, device=device)).numpy()
    a = np.where(np.arange(a.size).reshape(a.shape) % 3 == 0, np.broadcast_to(b, a.shape)
                 if a.shape == np.broadcast_shapes(a.shape, b.shape) else a, a) + 1e-6
    rtol, atol = data.draw(hst.sampled_from([(1e-5, 1e-8), (0.0, 1e-3), (0.1, 0.0)]))
    got = Tensor(a, device=device).isclose(Tensor(b, device=device), rtol=rtol, atol=atol,
                                           equal_nan=equal_nan)
    assert got.dtype == dtypes.bool and got.shape == np.broadcast_shapes(a.shape, b.shape)
    np.testing.assert_array_equal(got.numpy(), np.isclose(a, b, rtol=rtol, atol=atol,
                                                          equal_nan=equal_nan))


def test_isclose_special_values(device):
    a = Tensor([INF, -INF, INF, NAN, 1.0, 1e-9], device=device)
    b = Tensor([INF, INF, 1e30, NAN, NAN, 0.0], device=device)
    np.testing.assert_array_equal(a.isclose(b).numpy(), [True, False, False, False, False,
                                                         True])
    np.testing.assert_array_equal(a.isclose(b, equal_nan=True).numpy()[3], True)
    assert Tensor([1, 2], device=device).isclose(Tensor([1, 3], device=device)).tolist() == \
        [True, False]
    assert Tensor([1.0], device=device).isclose(1.000001).item()


def test_allclose_returns_a_python_bool(device):
    a = Tensor([[1.0, 2.0]], device=device)
    assert a.allclose(Tensor([1.0000001, 2.0], device=device)) is True
    assert a.allclose(Tensor([[1.0], [2.0]], device=device)) is False  # broadcast
    assert Tensor([NAN], device=device).allclose(Tensor([NAN], device=device)) is False
    assert Tensor([NAN], device=device).allclose(Tensor([NAN], device=device),
                                                 equal_nan=True) is True


@pytest.mark.parametrize("name", ["isinf", "isfinite", "isposinf", "isneginf", "isnan"])
def test_value_tests(name, device):
    values = np.array([-INF, -1.5, -0.0, 0.0, 2.0, INF, NAN])
    got = getattr(Tensor(values, device=device), name)()
    assert got.dtype == dtypes.bool and not got.requires_grad
    np.testing.assert_array_equal(got.numpy(), getattr(np, name)(values))
    ints = getattr(Tensor([0, -5, 7], device=device), name)()
    np.testing.assert_array_equal(ints.numpy(), getattr(np, name)(np.array([0, -5, 7.0])))


LOGICAL = ["logical_and", "logical_or", "logical_xor"]


@pytest.mark.parametrize("name", LOGICAL)
@given(data=hst.data())
def test_logical_any_dtypes(name, data, device):
    shape_a, shape_b = data.draw(st.broadcastable_shapes())
    da, db = data.draw(hst.sampled_from([dtypes.bool, dtypes.int64, dtypes.float32]),
                       label="dtypes"), dtypes.float64
    a = data.draw(st.tensors(shape_a, dtype=da, low=-1, high=1, device=device))
    b = data.draw(st.tensors(shape_b, dtype=db, device=device))
    b = Tensor(np.round(b.numpy()), device=device)  # zeros among the values
    got = getattr(a, name)(b)
    assert got.dtype == dtypes.bool
    np.testing.assert_array_equal(got.numpy(), getattr(np, name)(a.numpy(), b.numpy()))
    np.testing.assert_array_equal(getattr(a, name)(0).numpy(),
                                  getattr(np, name)(a.numpy(), 0))


def test_logical_not(device):
    x = Tensor([0.0, -0.0, 0.5, NAN], device=device)
    np.testing.assert_array_equal(x.logical_not().numpy(), [True, True, False, False])
    np.testing.assert_array_equal(Tensor([0, 3], device=device).logical_not().numpy(),
                                  [True, False])


BITWISE = {
    "bitwise_and": (lambda a, b: a & b, np.bitwise_and),
    "bitwise_or": (lambda a, b: a | b, np.bitwise_or),
    "bitwise_xor": (lambda a, b: a ^ b, np.bitwise_xor),
}


@pytest.mark.parametrize("name", list(BITWISE))
@pytest.mark.parametrize("dtype", [dtypes.bool, dtypes.uint8, dtypes.int8, dtypes.int16,
                                   dtypes.int32, dtypes.int64])
def test_bitwise(name, dtype, device):
    rng = np.random.default_rng(0)
    a = rng.integers(-128, 128, (3, 4)).astype(dtype)
    b = rng.integers(-128, 128, (4,)).astype(dtype)
    op, ref = BITWISE[name]
    ta, tb = Tensor(a, device=device), Tensor(b, device=device)
    for got in (op(ta, tb), getattr(ta, name)(tb)):
        assert got.dtype == dtype
        np.testing.assert_array_equal(got.numpy(), ref(a, b))
    scalar = True if dtype == dtypes.bool else 5
    np.testing.assert_array_equal(op(scalar, ta).numpy(), ref(scalar, a))  # reflected: 5 & t
    np.testing.assert_array_equal(op(ta, scalar).numpy(), ref(a, scalar))
    assert op(scalar, ta).dtype == dtype


def test_bitwise_not(device):
    np.testing.assert_array_equal((~Tensor([True, False], device=device)).numpy(),
                                  [False, True])
    u8 = Tensor(np.array([5, 0], dtype=np.uint8), device=device)
    np.testing.assert_array_equal(u8.bitwise_not().numpy(), [250, 255])
    np.testing.assert_array_equal((~Tensor([0, -1, 7], device=device)).numpy(), [-1, 0, -8])


def test_shifts(device):
    x = Tensor([1, 2, -8], device=device)
    np.testing.assert_array_equal((x << 3).numpy(), [8, 16, -64])
    np.testing.assert_array_equal((x >> 1).numpy(), [0, 1, -4])  # arithmetic
    np.testing.assert_array_equal((1 << Tensor([0, 3, 10], device=device)).numpy(), [1, 8, 1024])
    np.testing.assert_array_equal((1024 >> Tensor([0, 3, 10], device=device)).numpy(),
                                  [1024, 128, 1])
    np.testing.assert_array_equal(x.bitwise_left_shift(Tensor([1, 2, 3], device=device)).numpy(),
                                  [2, 8, -64])
    np.testing.assert_array_equal(x.bitwise_right_shift(2).numpy(), [0, 0, -2])
    small = Tensor(np.array([1, 3], dtype=np.int8), device=device)
    assert (small << 7).dtype == dtypes.int8
    np.testing.assert_array_equal((small << 7).numpy(), [-128, -128])  # bits fall off
    np.testing.assert_array_equal((Tensor([3, -3], device=device) >> 70).numpy(), [0, -1])
    np.testing.assert_array_equal((Tensor([1], device=device) << 64).numpy(), [0])
    bools = Tensor([True, False], device=device) << 1  # a Python int makes bools int64
    assert bools.dtype == dtypes.int64 and bools.tolist() == [2, 0]


@pytest.mark.parametrize("fn,pattern", [
    (lambda t: t << 1, "bitwise_left_shift: needs integer tensors, got float32"),
    (lambda t: 1 >> t, "bitwise_right_shift: needs integer tensors"),
    (lambda t: t & 1, "bitwise_and: needs bool or integer tensors, got float32"),
    (lambda t: 1 | t, "bitwise_or: needs bool or integer"),
    (lambda t: t ^ t, "bitwise_xor"),
    (lambda t: ~t, "bitwise_not: needs a bool or integer tensor, got float32"),
])
def test_bitwise_on_floats_raises(fn, pattern, device):
    with pytest.raises(TypeError, match=pattern):
        fn(Tensor([1.0, 2.0], device=device))


@pytest.mark.parametrize("fn,exc,pattern", [
    (lambda t: t.isclose(t, rtol=-1), ValueError, "isclose: rtol must be a number >= 0"),
    (lambda t: t.isclose(t, atol=NAN), ValueError, "isclose: atol"),
    (lambda t: t.logical_and("x"), TypeError, "logical_and: unsupported operand type str"),
    (lambda t: t.isclose(Tensor.ones(3, device=t.device)), ValueError, r"\(2,\).*\(3,\)"),
])
def test_bad_arguments(fn, exc, pattern, device):
    with pytest.raises(exc, match=pattern):
        fn(Tensor([1.0, 2.0], device=device))


def test_results_carry_no_gradient(device):
    x = Tensor([1.0, 2.0], requires_grad=True, device=device)
    for out in (x.isclose(x), x.isinf(), x.logical_not(), x.logical_or(x), x == x):
        assert not out.requires_grad and out.dtype == dtypes.bool


def test_bitwise_at_integer_limits(device):
    big = Tensor(np.array([2**63 - 1, -2**63], dtype=np.int64), device=device)
    np.testing.assert_array_equal((~big).numpy(), [-2**63, 2**63 - 1])
    np.testing.assert_array_equal((big >> 63).numpy(), [0, -1])
    np.testing.assert_array_equal((big & -1).numpy(), big.numpy())
    u8 = Tensor(np.array([255, 128], dtype=np.uint8), device=device)
    np.testing.assert_array_equal((u8 << 1).numpy(), [254, 0])
    np.testing.assert_array_equal((u8 >> 7).numpy(), [1, 1])
    i8 = Tensor(np.array([-128, 127], dtype=np.int8), device=device)
    np.testing.assert_array_equal((i8 >> 7).numpy(), [-1, 0])
    np.testing.assert_array_equal((i8 ^ -1).numpy(), [127, -128])
