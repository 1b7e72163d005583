"""Reductions with drawn axes (None, negative, tuples) and keepdim."""

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as hst

from tests.helpers import check_op
from tinygrad_nv import Tensor, dtypes
from tinygrad_nv.testing import gradcheck, gradgradcheck
from tinygrad_nv.testing import strategies as st


def _np_axis(axis):
    return tuple(axis) if isinstance(axis, (list, tuple)) else axis


REDUCTIONS = {
    "sum": (lambda x, a, k: x.sum(a, keepdim=k), lambda x, a, k: x.sum(a, keepdims=k)),
    "mean": (lambda x, a, k: x.mean(axis=a, keepdim=k), lambda x, a, k: x.mean(a, keepdims=k)),
    "max": (lambda x, a, k: _selected(x, "max", a, k), lambda x, a, k: x.max(a, keepdims=k)),
    "min": (lambda x, a, k: _selected(x, "min", a, k), lambda x, a, k: x.min(a, keepdims=k)),
    "amax": (lambda x, a, k: x.amax(dim=a, keepdim=k), lambda x, a, k: x.max(a, keepdims=k)),
    "amin": (lambda x, a, k: x.amin(a, keepdim=k), lambda x, a, k: x.min(a, keepdims=k)),
    "prod": (lambda x, a, k: x.prod(a, keepdim=k), lambda x, a, k: x.prod(a, keepdims=k)),
    "logsumexp": (lambda x, a, k: x.logsumexp(a, keepdim=k),
                  lambda x, a, k: np.log(np.exp(x).sum(a, keepdims=k))),
    "var": (lambda x, a, k: x.var(a, keepdim=k),
            lambda x, a, k: x.var(a, keepdims=k, ddof=1)),
    "std": (lambda x, a, k: x.std(a, keepdim=k),
            lambda x, a, k: x.std(a, keepdims=k, ddof=1)),
    "var_mean": (lambda x, a, k: _pair(x.var_mean(a, keepdim=k)),
                 lambda x, a, k: x.var(a, keepdims=k, ddof=1) + 2 * x.mean(a, keepdims=k)),
    "std_mean": (lambda x, a, k: _pair(x.std_mean(dim=a, keepdim=k)),
                 lambda x, a, k: x.std(a, keepdims=k, ddof=1) + 2 * x.mean(a, keepdims=k)),
}


def _selected(x, op, axis, keepdim):
    """torch.max/min: a tensor over all axes, the values of (values, indices) over one (the
    same through amax/amin over several)."""
    if isinstance(axis, tuple):
        return getattr(x, "a" + op)(axis, keepdim=keepdim)
    out = getattr(x, op)(dim=axis, keepdim=keepdim)
    return out if axis is None else out.values


def _pair(result):
    """(spread, mean) as one tensor to compare: spread + 2 * mean."""
    spread, center = result
    assert spread.shape == center.shape
    return spread + 2 * center


@pytest.mark.parametrize("name", list(REDUCTIONS))
@given(data=hst.data())
def test_reduction(name, data, device):
    fn, ref = REDUCTIONS[name]
    unbiased = name in ("var", "std", "var_mean", "std_mean")  # n - 1 > 0: 2+ reduced
    x = data.draw(st.tensors(shape=st.shapes(min_dims=int(unbiased), max_dims=3,
                                             min_side=1 + unbiased, max_side=3), device=device))
    axis = _np_axis(data.draw(st.axes(x.ndim)))
    keepdim = data.draw(hst.booleans())
    if "std" in name:  # sqrt near 0 variance: finite differences are ill-conditioned there
        assume(np.all(x.numpy().var(axis=axis) > 1e-2))
    check_op(lambda t: fn(t, axis, keepdim), lambda a: ref(a, _np_axis(axis), keepdim), x)


def test_var_correction(device):
    a = np.arange(6.0).reshape(2, 3)
    x = Tensor(a, device=device)
    np.testing.assert_allclose(x.var(1, correction=0).numpy(), a.var(1))
    np.testing.assert_allclose(x.std().numpy(), a.std(ddof=1))


def test_prod_gradient_with_zeros(device):
    x = Tensor([[2.0, 0.0, 3.0], [0.0, 0.0, 1.0]], device=device, requires_grad=True)
    x.prod(axis=1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[0.0, 6.0, 0.0], [0.0, 0.0, 0.0]])


@pytest.mark.parametrize("op", ["max", "min"])
def test_max_min_over_a_dim_pick_an_index_and_over_all_share_the_gradient(op, device):
    x = Tensor([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]], device=device, requires_grad=True)
    values, indices = getattr(x if op == "max" else -x, op)(axis=1)  # torch.max(x, 1)
    assert type(values).__name__ == "Tensor" and indices.tolist() == [1, 0]
    values.sum().backward()  # the gradient goes to the selected (first) index, as PyTorch
    np.testing.assert_allclose(np.abs(x.grad.numpy()), [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    x.grad = None
    getattr(x if op == "max" else -x, op)().backward()  # ties of all elements share it
    np.testing.assert_allclose(np.abs(x.grad.numpy()), [[0.0, 0.5, 0.5], [0.0, 0.0, 0.0]])
    x.grad = None
    getattr(x, "a" + op)(1).sum().backward()  # amax/amin share it too
    tied = [[0.0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]] if op == "max" else [
        [1.0, 0.0, 0.0], [1 / 3, 1 / 3, 1 / 3]]
    np.testing.assert_allclose(x.grad.numpy(), tied)


def test_logsumexp_is_stable(device):
    x = Tensor([[1000.0, 1000.0], [-1000.0, -1000.0]], device=device)
    np.testing.assert_allclose(x.logsumexp(1).numpy(), [1000 + np.log(2), -1000 + np.log(2)])


@pytest.mark.parametrize("op", ["argmax", "argmin"])
def test_argmax_argmin(op, device):
    a = np.random.default_rng(0).standard_normal((3, 4, 5))
    x = Tensor(a, device=device)
    for axis in (None, 0, -1, 1):
        got = getattr(x, op)(axis)
        assert got.dtype == dtypes.int64 and not got.requires_grad
        np.testing.assert_array_equal(got.numpy(), getattr(a, op)(axis))
    np.testing.assert_array_equal(getattr(x, op)(dim=1, keepdim=True).numpy(),
                                  getattr(a, op)(1, keepdims=True))


def test_sum_of_integers_and_bools(device):
    assert Tensor([True, True, False], device=device).sum().item() == 2
    assert Tensor([1, 2, 3], device=device).sum().item() == 6
    assert Tensor([1, 2], device=device).mean().item() == 1.5


def _np_norm(a, p, axis, keepdim):
    """The vector p-norm from its definition (torch.norm / torch.linalg.vector_norm)."""
    size = np.abs(a)
    if p == np.inf:
        return size.max(axis, keepdims=keepdim)
    if p == -np.inf:
        return size.min(axis, keepdims=keepdim)
    if p == 0:
        return (size != 0).sum(axis, keepdims=keepdim).astype(a.dtype)
    return (size**p).sum(axis, keepdims=keepdim) ** (1 / p)


@pytest.mark.parametrize("p", ["fro", 2, 1, np.inf, -np.inf, 3, 0.5, -1.5, 1.5])
@given(data=hst.data())
def test_norm(p, data, device):
    x = data.draw(st.tensors(shape=st.shapes(max_dims=3, max_side=3), avoid=(0.0,),
                             low=-2.0, high=2.0, device=device))
    axis = _np_axis(data.draw(st.axes(x.ndim)))
    keepdim = data.draw(hst.booleans())
    order = 2 if p == "fro" else p
    check_op(lambda t: t.norm(p, dim=axis, keepdim=keepdim),
             lambda a: _np_norm(a, order, _np_axis(axis), keepdim), x)


def test_norm_zero_count_and_axis_alias(device):
    a = np.array([[1.0, 0.0, -2.0], [0.0, 0.0, 3.0]])
    x = Tensor(a, device=device, requires_grad=True)
    np.testing.assert_array_equal(x.norm(0, axis=1).numpy(), [2.0, 1.0])
    x.norm(0).backward()  # the count has no gradient, as in PyTorch
    assert x.grad is None
    np.testing.assert_allclose(Tensor([1, 2], device=device).norm().numpy(), np.sqrt(5))
    assert Tensor([1, 2], device=device).norm().dtype == dtypes.float32
    assert x.norm(dtype="float32").dtype == dtypes.float32


@pytest.mark.parametrize("p", [2, "fro", 1, 3, 0.5, np.inf, -np.inf, -1.0])
def test_norm_gradient_at_zero_is_zero(p, device):
    x = Tensor([[0.0, 0.0, 0.0], [0.0, 3.0, -4.0]], device=device, requires_grad=True)
    x.norm(p, dim=1).sum().backward()
    g = x.grad.numpy()
    assert np.isfinite(g).all(), g
    np.testing.assert_array_equal(g[0], 0.0)
    expected = {2: [0, 0.6, -0.8], "fro": [0, 0.6, -0.8], 1: [0, 1, -1], np.inf: [0, 0, -1]}
    if p in expected:
        np.testing.assert_allclose(g[1], expected[p])


def test_norm_splits_the_gradient_between_tied_extremes(device):
    x = Tensor([3.0, -3.0, 1.0], device=device, requires_grad=True)
    x.norm(np.inf).backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.5, -0.5, 0.0])


@pytest.mark.parametrize("op", ["max", "min", "amax", "amin"])
@pytest.mark.parametrize("dtype", ["int8", "uint8", "int16", "int32", "int64"])
def test_integer_extremes_are_exact_at_the_limits(op, dtype, device):
    info = np.iinfo(dtype)
    a = np.array([[0, info.min, 5], [info.max, 1, info.min]], dtype=dtype)
    x = Tensor(a, device=device)
    fn = np.max if op.endswith("max") else np.min
    for axis in (None, 0, 1, (0, 1)) if op.startswith("a") else (None, 0, 1):
        got = getattr(x, op)(axis)
        got = got.values if isinstance(got, tuple) else got
        assert got.dtype == a.dtype
        np.testing.assert_array_equal(got.numpy(), fn(a, axis=axis))


@pytest.mark.parametrize("op", ["max", "min", "amax", "amin"])
def test_bool_extremes_are_bool(op, device):
    a = np.array([[True, False], [False, False]])
    got = getattr(Tensor(a, device=device), op)(dim=1)
    got = got.values if isinstance(got, tuple) else got
    assert got.dtype == dtypes.bool
    fn = np.max if op.endswith("max") else np.min
    np.testing.assert_array_equal(got.numpy(), fn(a, axis=1))


@pytest.mark.parametrize("op", ["max", "min", "amax", "amin", "argmax", "argmin"])
def test_extremes_over_empty_axes_follow_pytorch(op, device):
    x = Tensor.zeros(0, 3, device=device)
    got = getattr(x, op)(dim=1)  # nothing to reduce per row: an empty result
    assert all(t.shape == (0,) for t in (got if isinstance(got, tuple) else [got]))
    with pytest.raises(IndexError, match=f"{op}: .*axis 0 of size 0"):
        getattr(x, op)(0)
    with pytest.raises(RuntimeError, match=f"{op}: cannot reduce an empty tensor"):
        getattr(x, op)()


def test_reductions_over_empty_axes_have_identities(device):
    x = Tensor.zeros(0, 3, device=device, requires_grad=True)
    np.testing.assert_array_equal(x.sum(0).numpy(), np.zeros(3))
    np.testing.assert_array_equal(x.prod(0).numpy(), np.ones(3))
    np.testing.assert_array_equal(x.logsumexp(0).numpy(), np.full(3, -np.inf))
    assert x.logsumexp(1).shape == (0,)
    assert np.isnan(x.mean(0).numpy()).all()
    np.testing.assert_array_equal(x.norm(dim=0).numpy(), np.zeros(3))
    np.testing.assert_array_equal(x.all(0).numpy(), [True] * 3)
    np.testing.assert_array_equal(x.any(0).numpy(), [False] * 3)
    assert x.count_nonzero().item() == 0
    x.logsumexp(0).sum().backward()
    assert x.grad.shape == (0, 3)


def test_nan_and_inf_in_extremes(device):
    a = np.array([[1.0, np.nan, 2.0], [-np.inf, 0.0, np.inf]])
    x = Tensor(a, device=device)
    np.testing.assert_array_equal(x.amax(1).numpy(), [np.nan, np.inf])
    np.testing.assert_array_equal(x.amin(1).numpy(), [np.nan, -np.inf])
    np.testing.assert_array_equal(x.argmax(1).numpy(), [1, 2])  # NaN counts as the largest
    np.testing.assert_array_equal(x.argmin(1).numpy(), [1, 0])
    np.testing.assert_array_equal(x.logsumexp(1).numpy(), [np.nan, np.inf])


def test_max_min_of_a_tensor_argument_are_elementwise(device):
    a, b = Tensor([1.0, 5.0], device=device), Tensor([3.0, 2.0], device=device)
    np.testing.assert_array_equal(a.max(b).numpy(), [3.0, 5.0])
    np.testing.assert_array_equal(a.min(b).numpy(), [1.0, 2.0])


@given(data=hst.data(), dtype=hst.sampled_from(["float64", "int32", "int64", "bool"]))
def test_count_nonzero_all_any(data, dtype, device):
    empty_ok = dtype != "float64"  # (tensors() draws no empty float arrays)
    x = data.draw(st.tensors(shape=st.shapes(min_side=int(not empty_ok), max_dims=3, max_side=3),
                             dtype=dtype, low=-1, high=1, device=device))
    a = x.numpy()
    axis = _np_axis(data.draw(st.axes(x.ndim)))
    keepdim = data.draw(hst.booleans())
    got = x.count_nonzero(dim=axis)
    assert got.dtype == dtypes.int64
    np.testing.assert_array_equal(got.numpy(), np.count_nonzero(a, axis=axis))
    for op in ("all", "any"):
        got = getattr(x, op)(axis, keepdim=keepdim)
        assert got.dtype == dtypes.bool and not got.requires_grad
        np.testing.assert_array_equal(got.numpy(), getattr(a, op)(axis, keepdims=keepdim))
    np.testing.assert_array_equal(x.all(dim=axis).numpy(), a.all(axis))


def test_all_any_count_nan_as_true(device):
    x = Tensor([np.nan, 1.0], device=device)
    assert x.all().item() and x.count_nonzero().item() == 2


def test_all_any_of_uint8_give_uint8(device):  # as PyTorch
    x = Tensor(np.array([[2, 0], [1, 1]], dtype=np.uint8), device=device)
    for op in ("all", "any"):
        got = getattr(x, op)(1)
        assert got.dtype == dtypes.uint8
        np.testing.assert_array_equal(got.numpy(), getattr(x.numpy(), op)(1))


@pytest.mark.parametrize("op", ["sum", "prod"])
@pytest.mark.parametrize("dtype", ["bool", "int8", "uint8", "int16", "int32", "int64"])
def test_sum_prod_of_integers_accumulate_in_int64(op, dtype, device):
    a = np.array([[1, 0, 1], [1, 1, 1]]).astype(dtype)
    got = getattr(Tensor(a, device=device), op)(1)
    assert got.dtype == dtypes.int64
    np.testing.assert_array_equal(got.numpy(), getattr(a.astype(np.int64), op)(1))


def test_sum_prod_mean_dtype_casts_first(device):
    x = Tensor([[1.5, 2.5], [-1.5, 4.0]], device=device, requires_grad=True)
    got = x.sum(1, dtype=dtypes.float64)
    assert got.dtype == dtypes.float64
    np.testing.assert_array_equal(got.numpy(), [4.0, 2.5])
    got.sum().backward()
    assert x.grad.dtype == dtypes.float32
    np.testing.assert_array_equal(x.grad.numpy(), np.ones((2, 2)))
    truncated = x.detach().sum(dim=0, dtype="int32")  # as PyTorch: cast (truncate), then sum
    assert truncated.dtype == dtypes.int32
    np.testing.assert_array_equal(truncated.numpy(), [0, 6])
    np.testing.assert_array_equal(x.detach().prod(1, dtype="int64").numpy(), [2, -4])
    assert Tensor([1, 2], device=device).mean(dtype="float64").dtype == dtypes.float64


def test_var_unbiased_and_correction(device):
    a = np.array([[1.0, 2.0, 4.0], [0.0, 0.0, 3.0]])
    x = Tensor(a, device=device)
    np.testing.assert_allclose(x.var(1, unbiased=False).numpy(), a.var(1))
    np.testing.assert_allclose(x.std(dim=0, unbiased=True).numpy(), a.std(0, ddof=1))
    np.testing.assert_allclose(x.var(correction=2).numpy(), a.var(ddof=2))
    variance, center = x.var_mean(1, correction=0, keepdim=True)
    np.testing.assert_allclose(variance.numpy(), a.var(1, keepdims=True))
    np.testing.assert_allclose(center.numpy(), a.mean(1, keepdims=True))
    assert np.isnan(Tensor([3.0], device=device).var().item())  # n - 1 = 0: 0 / 0


def test_reductions_of_0d_tensors(device):
    x = Tensor(2.5, device=device, requires_grad=True)
    for op in ("sum", "amax", "amin", "max", "logsumexp", "prod", "norm"):
        for dim in (None, 0, -1):
            out = getattr(x, op)(dim=dim) if op != "norm" else x.norm(dim=dim)
            out = out.values if isinstance(out, tuple) else out  # max(dim): (values, indices)
            assert out.shape == ()
            expected = np.log(np.exp(2.5)) if op == "logsumexp" else 2.5
            np.testing.assert_allclose(out.item(), expected, rtol=1e-6)
    assert x.argmax(0).item() == 0 and x.count_nonzero(0).item() == 1


@pytest.mark.parametrize("op", ["std", "std_mean", "var", "norm"])
def test_gradients_at_zero_spread_are_zero_not_nan(op, device):
    """As PyTorch, whose std backward masks grad / (2 std) where std is 0: a constant row gets
    gradient 0 (the mean's share for std_mean), the other rows std's usual (x - mean) /
    ((n - 1) std)."""
    a = np.array([[2.0, 2.0, 2.0, 2.0], [1.0, 2.0, 4.0, 7.0]])
    x = Tensor(a, device=device, requires_grad=True)
    if op == "norm":
        x = Tensor(a - a[:, :1], device=device, requires_grad=True)  # row 0 is all zeros
    out = getattr(x, op)(dim=1)
    (out[0] + out[1] if op == "std_mean" else out).sum().backward()
    b = x.detach().numpy()
    centered = b - b.mean(1, keepdims=True)
    expected = {
        "std": centered / (3 * np.maximum(b.std(1, ddof=1, keepdims=True), 1e-300)),
        "std_mean": centered / (3 * np.maximum(b.std(1, ddof=1, keepdims=True), 1e-300))
        + 0.25,
        "var": 2 * centered / 3,
        "norm": b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-300),
    }[op]
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-12, atol=1e-12)
    assert np.all(x.grad.numpy()[0] == (0.25 if op == "std_mean" else 0.0))


def test_std_gradient_at_zero_spread_as_pytorch(device):
    torch = pytest.importorskip("torch")
    a = np.array([[3.0, 3.0, 3.0], [0.5, 1.0, -2.0]])
    for correction in (0, 1):
        x, tx = Tensor(a, device=device, requires_grad=True), torch.tensor(a, requires_grad=True)
        s, m = x.std_mean(1, correction=correction)
        ts, tm = torch.std_mean(tx, 1, correction=correction)
        (s * Tensor([1.0, 2.0], device=device) + m).sum().backward()
        (ts * torch.tensor([1.0, 2.0]) + tm).sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12)
    single = Tensor([3.0], device=device, requires_grad=True)  # n - 1 = 0: NaN, as PyTorch
    single.std().backward()
    assert np.isnan(single.grad.numpy()).all()


def test_std_gradients_away_from_zero_spread_still_check(device):
    x = Tensor(np.array([[0.3, -1.2, 2.0], [1.0, 1.5, 0.25]]), device=device, requires_grad=True)
    gradcheck(lambda t: t.std(1), [x])
    gradgradcheck(lambda t: t.std(1), [x])
    gradcheck(lambda t: t.std_mean(0, correction=0)[0], [x])



@pytest.mark.parametrize("op", ["sum", "mean", "amax", "amin", "var", "std", "var_mean",
                                "std_mean", "logsumexp", "norm", "count_nonzero"])
def test_an_empty_dim_list_reduces_every_axis(op, device):
    """As PyTorch's dim=() and dim=[] (NumPy's axis=() reduces none; it returned x)."""
    x = Tensor(np.random.default_rng(3).standard_normal((2, 3)), device=device,
               requires_grad=op != "count_nonzero")
    first = (lambda v: v[0]) if op.endswith("_mean") else (lambda v: v)
    keep = [{}] if op == "count_nonzero" else [{"keepdim": False}, {"keepdim": True}]
    for kwargs in keep:
        expected = first(getattr(x, op)(**kwargs))
        for empty in ({"dim": ()}, {"dim": []}, {"axis": ()}):
            got = first(getattr(x, op)(**empty, **kwargs))
            assert got.shape == expected.shape
            np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-12)
    if op != "count_nonzero":
        gradcheck(lambda t: first(getattr(t, op)(dim=())), [x])


def test_all_any_over_an_empty_dim_list_reduce_nothing(device):  # as PyTorch
    x = Tensor([[1.0, 0.0, 2.0]], device=device)
    np.testing.assert_array_equal(x.all(dim=()).numpy(), [[True, False, True]])
    np.testing.assert_array_equal(x.any(dim=()).numpy(), [[True, False, True]])
    with pytest.raises(IndexError, match="axis 1 of size 0"):
        Tensor.zeros(2, 0, device=device).amax(dim=())
