"""Scans and order (cumsum, cumprod, cummax, cummin, logcumsumexp, sort, argsort, topk): values
against NumPy or PyTorch's documented rules, gradients and second derivatives on drawn shapes
and axes, ties, zeros, NaN, infinities, integer limits, empty and 0-d tensors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as hst

from tests.helpers import check_op
from tinygrad_nv import Tensor, dtypes
from tinygrad_nv.testing import gradcheck, gradgradcheck
from tinygrad_nv.testing import strategies as st


def _drawn(data, device, **kwargs):
    """A tensor of 1-3 dims and one of its axes (negative half the time)."""
    x = data.draw(st.tensors(shape=st.shapes(min_dims=1, max_dims=3, max_side=4),
                             device=device, **kwargs))
    return x, data.draw(st.axes(x.ndim, allow_none=False, allow_tuple=False))


def _running_extreme(a, axis, largest):
    """cummax / cummin by PyTorch's rule: a NaN takes over, ties go to the later index."""
    a = np.moveaxis(a, axis, -1)
    values, indices = a.copy(), np.zeros(a.shape, dtype=np.int64)
    for row in np.ndindex(a.shape[:-1]):
        best = 0
        for j in range(a.shape[-1]):
            x, b = a[row + (j,)], a[row + (best,)]
            if np.isnan(x) or (not np.isnan(b) and (x >= b if largest else x <= b)):
                best = j
            values[row + (j,)], indices[row + (j,)] = a[row + (best,)], best
    return np.moveaxis(values, -1, axis), np.moveaxis(indices, -1, axis)


def _descending_order(a, axis):
    """Stable descending order for floats without NaN."""
    return np.argsort(-a, axis=axis, kind="stable")


SCANS = {
    "cumsum": (lambda x, d: x.cumsum(d), lambda a, d: np.cumsum(a, axis=d)),
    "cumprod": (lambda x, d: x.cumprod(dim=d), lambda a, d: np.cumprod(a, axis=d)),
    "logcumsumexp": (lambda x, d: x.logcumsumexp(axis=d),
                     lambda a, d: np.logaddexp.accumulate(a, axis=d)),
    "cummax": (lambda x, d: x.cummax(d).values,
               lambda a, d: np.maximum.accumulate(a, axis=d)),
    "cummin": (lambda x, d: x.cummin(dim=d)[0],
               lambda a, d: np.minimum.accumulate(a, axis=d)),
    "sort": (lambda x, d: x.sort(d)[0], lambda a, d: np.sort(a, axis=d)),
    "sort_descending": (lambda x, d: x.sort(dim=d, descending=True).values,
                        lambda a, d: np.flip(np.sort(a, axis=d), d)),
}


@pytest.mark.parametrize("name", list(SCANS))
@given(data=hst.data())
def test_scan(name, data, device):
    fn, ref = SCANS[name]
    x, axis = _drawn(data, device, low=-2.0, high=2.0)
    check_op(lambda t: fn(t, axis), lambda a: ref(a, axis), x)


@given(data=hst.data(), largest=hst.booleans())
def test_topk(data, largest, device):
    x, axis = _drawn(data, device)
    k = data.draw(hst.integers(0, x.shape[axis]))
    a = x.numpy()
    order = _descending_order(a, axis) if largest else np.argsort(a, axis=axis, kind="stable")
    order = np.take(order, np.arange(k), axis=axis)
    values, indices = x.topk(k, dim=axis, largest=largest)
    assert indices.dtype == dtypes.int64
    np.testing.assert_array_equal(indices.numpy(), order)
    check_op(lambda t: t.topk(k, axis, largest).values,
             lambda a: np.take_along_axis(a, order, axis), x)


@given(data=hst.data(), descending=hst.booleans())
def test_argsort_and_sort_indices(data, descending, device):
    x, axis = _drawn(data, device)
    a = x.numpy()
    order = _descending_order(a, axis) if descending else np.argsort(a, axis=axis,
                                                                     kind="stable")
    got = x.argsort(dim=axis, descending=descending)
    assert got.dtype == dtypes.int64 and not got.requires_grad
    np.testing.assert_array_equal(got.numpy(), order)
    np.testing.assert_array_equal(x.sort(axis, descending).indices.numpy(), order)


@pytest.mark.parametrize("op", ["cummax", "cummin"])
@given(data=hst.data())
def test_cummax_cummin_indices_with_ties(op, data, device):
    a = data.draw(hst.lists(hst.sampled_from([0.0, 1.0, 2.0]), min_size=1, max_size=7))
    a = np.array(a).reshape(1, -1)
    values, indices = getattr(Tensor(a, device=device), op)(-1)
    expected_values, expected_indices = _running_extreme(a, -1, op == "cummax")
    np.testing.assert_array_equal(values.numpy(), expected_values)
    np.testing.assert_array_equal(indices.numpy(), expected_indices)


@pytest.mark.parametrize("op", ["cummax", "cummin"])
def test_cummax_cummin_with_nan_and_ties(op, device):
    a = np.array([[1.0, np.nan, 3.0, np.nan, 2.0], [3.0, 1.0, 3.0, 1.0, 0.5]])
    values, indices = getattr(Tensor(a, device=device), op)(1)
    expected_values, expected_indices = _running_extreme(a, 1, op == "cummax")
    np.testing.assert_array_equal(values.numpy(), expected_values)
    np.testing.assert_array_equal(indices.numpy(), expected_indices)


@pytest.mark.parametrize("op", ["cummax", "cummin"])
def test_cummax_cummin_route_the_gradient_to_the_selected_element(op, device):
    a = [1.0, 3.0, 3.0, 2.0, 5.0, 5.0] if op == "cummax" else [5.0, 3.0, 3.0, 4.0, 1.0, 1.0]
    x = Tensor(a, device=device, requires_grad=True)
    values, indices = getattr(x, op)(0)
    (values * Tensor(np.arange(1.0, 7.0), device=device)).sum().backward()
    expected = np.zeros(6)
    np.add.at(expected, indices.numpy(), np.arange(1.0, 7.0))
    np.testing.assert_array_equal(indices.numpy(), [0, 1, 2, 2, 4, 5])
    np.testing.assert_array_equal(x.grad.numpy(), expected)


def _cumprod_gradient(a):
    """d sum(cumprod(a)) / d a[i] = sum over j >= i of the product of a[:j+1] without a[i]."""
    return np.array([sum(np.prod(np.delete(a[:j + 1], i)) for j in range(i, len(a)))
                     for i in range(len(a))])


@pytest.mark.parametrize("values", [[2.0, 0.0, 3.0, 4.0], [0.0, 2.0, 0.0, 5.0, 3.0],
                                    [1.5, -2.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
def test_cumprod_gradient_with_zeros_is_exact(values, device):
    x = Tensor(values, device=device, dtype=dtypes.float64, requires_grad=True)
    x.cumprod(0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), _cumprod_gradient(np.array(values)))
    gradgradcheck(lambda t: t.cumprod(0), [Tensor(values, dtype=dtypes.float64,
                                                  device=device)])


def test_logcumsumexp_is_stable(device):
    a = np.array([-1000.0, 0.0, 1000.0, -np.inf, np.inf])
    x = Tensor(a, device=device, requires_grad=True)
    np.testing.assert_allclose(x.logcumsumexp(0).numpy(), np.logaddexp.accumulate(a))
    y = Tensor([-1000.0, 0.0, 1000.0, 999.0], device=device, dtype=dtypes.float64)
    gradcheck(lambda t: t.logcumsumexp(0), [y])
    gradgradcheck(lambda t: t.logcumsumexp(0), [y])
    assert np.isneginf(Tensor([-np.inf, -np.inf], device=device).logcumsumexp(0).numpy()).all()


@pytest.mark.parametrize("descending", [False, True])
def test_sort_puts_nan_last_and_keeps_ties_in_order(descending, device):
    a = np.array([3.0, np.nan, 1.0, 2.0, np.nan, -np.inf, 3.0, -0.0, 0.0])
    values, indices = Tensor(a, device=device).sort(descending=descending)
    # PyTorch: NaN is the largest value; equal values (-0.0 == 0.0 too) keep their order
    ascending = [5, 7, 8, 2, 3, 0, 6, 1, 4]
    expected = [1, 4, 0, 6, 3, 2, 7, 8, 5] if descending else ascending
    np.testing.assert_array_equal(indices.numpy(), expected)
    np.testing.assert_array_equal(values.numpy(), a[expected])
    top = Tensor(a, device=device).topk(3, largest=descending)
    np.testing.assert_array_equal(top.indices.numpy(), expected[:3])


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int16", "int32", "int64", "bool"])
def test_order_of_integers_and_bools_is_exact(dtype, device):
    if dtype == "bool":
        a = np.array([True, False, True, False])
    else:
        info = np.iinfo(dtype)
        a = np.array([5, info.min, info.max, 0, info.min, 1], dtype=dtype)
    x = Tensor(a, device=device)
    np.testing.assert_array_equal(x.argsort().numpy(), np.argsort(a, kind="stable"))
    values, indices = x.sort(descending=True)
    assert values.dtype == a.dtype
    np.testing.assert_array_equal(values.numpy(), np.sort(a)[::-1])
    np.testing.assert_array_equal(x.cummin(0).values.numpy(), np.minimum.accumulate(a))
    np.testing.assert_array_equal(x.cummax(0).values.numpy(), np.maximum.accumulate(a))
    np.testing.assert_array_equal(x.topk(2).values.numpy(), np.sort(a)[::-1][:2])


@pytest.mark.parametrize("op", ["cumsum", "cumprod"])
@pytest.mark.parametrize("dtype", ["bool", "int8", "uint8", "int16", "int32", "int64"])
def test_cumsum_cumprod_of_integers_accumulate_in_int64(op, dtype, device):
    a = np.array([[1, 0, 1], [1, 1, 1]]).astype(dtype)
    got = getattr(Tensor(a, device=device), op)(1)
    assert got.dtype == dtypes.int64
    np.testing.assert_array_equal(got.numpy(), getattr(np, op)(a.astype(np.int64), axis=1))


def test_cumsum_dtype_casts_first(device):
    x = Tensor([[1.5, 2.5, -0.5]], device=device, requires_grad=True)
    out = x.cumsum(1, dtype=dtypes.float64)
    assert out.dtype == dtypes.float64
    out.sum().backward()
    assert x.grad.dtype == dtypes.float32
    np.testing.assert_array_equal(x.grad.numpy(), [[3.0, 2.0, 1.0]])
    np.testing.assert_array_equal(x.detach().cumsum(1, dtype="int64").numpy(), [[1, 3, 3]])
    assert x.detach().cumprod(1, dtype="float64").dtype == dtypes.float64


@pytest.mark.parametrize("op", ["cumsum", "cumprod", "logcumsumexp", "cummax", "cummin",
                                "sort", "argsort"])
def test_empty_and_0d(op, device):
    empty = Tensor.zeros(0, 3, device=device)
    for dim in (0, 1):
        out = getattr(empty, op)(dim)
        for t in out if isinstance(out, tuple) else (out,):
            assert t.shape == (0, 3)
    x = Tensor(2.5, device=device, requires_grad=True)
    out = getattr(x, op)(0)
    values, indices = out if isinstance(out, tuple) else (out, None)
    if op == "argsort":
        values, indices = None, values
    if values is not None:
        assert values.shape == ()
        expected = np.log(np.exp(2.5)) if op == "logcumsumexp" else 2.5
        np.testing.assert_allclose(values.item(), expected)
        values.backward()
        np.testing.assert_allclose(x.grad.item(), 1.0)
    if indices is not None:
        assert indices.shape == () and indices.item() == 0


def test_topk_edge_cases(device):
    x = Tensor([[1.0, 5.0, 3.0], [2.0, 2.0, 2.0]], device=device)
    values, indices = x.topk(0)
    assert values.shape == (2, 0) and indices.shape == (2, 0)
    np.testing.assert_array_equal(x.topk(3, largest=False).values.numpy(),
                                  [[1.0, 3.0, 5.0], [2.0, 2.0, 2.0]])
    np.testing.assert_array_equal(x.topk(2).indices.numpy(), [[1, 2], [0, 1]])  # first ties
    np.testing.assert_array_equal(x.topk(1, dim=0, sorted=False).values.numpy(),
                                  [[2.0, 5.0, 3.0]])
    assert Tensor(4.0, device=device).topk(1).values.item() == 4.0


def test_results_unpack_and_have_fields(device):
    x = Tensor([[3.0, 1.0, 2.0]], device=device)
    for result in (x.sort(), x.topk(2), x.cummax(1), x.cummin(dim=-1)):
        values, indices = result
        assert result.values is values and result.indices is indices
        assert result[0] is values and len(result) == 2


def test_gradient_goes_back_to_the_sorted_elements(device):
    x = Tensor([[1.0, 3.0, 3.0, 2.0]], device=device, requires_grad=True)
    (x.sort(1).values * Tensor([[1.0, 2.0, 3.0, 4.0]], device=device)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[1.0, 3.0, 4.0, 2.0]])
    x.grad = None
    x.topk(1).values.sum().backward()  # the first of the tied maxima
    np.testing.assert_array_equal(x.grad.numpy(), [[0.0, 1.0, 0.0, 0.0]])


@pytest.mark.parametrize("op", ["cumsum", "cumprod", "logcumsumexp", "cummax", "cummin"])
def test_scans_need_an_axis(op, device):
    x = Tensor([[1.0, 2.0]], device=device)
    with pytest.raises(TypeError, match=rf"{op}: missing the axis.*\(1, 2\): -2 to 1"):
        getattr(x, op)()
    with pytest.raises(IndexError, match=rf"{op}: axis 2 is out of range.*\(1, 2\)"):
        getattr(x, op)(axis=2)


def test_topk_bad_k(device):
    x = Tensor([[1.0, 2.0, 3.0]], device=device)
    for k in (4, -1):
        with pytest.raises(RuntimeError, match=rf"topk: k={k} is out of range for axis 1 of "
                                               r"size 3 .*\(1, 3\).*valid: 0 to 3"):
            x.topk(k)
    with pytest.raises(IndexError, match="topk: axis 2"):
        x.topk(1, dim=2)
