"""matmul with NumPy's 1-D and batching rules, linear (with fused activations), einsum."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as hst

from tests.helpers import check_op
from tinygrad_nv import Tensor
from tinygrad_nv.testing import strategies as st


@pytest.mark.parametrize("shape_a,shape_b", [
    ((3,), (3,)), ((3,), (3, 2)), ((2, 3), (3,)), ((2, 3), (3, 4)), ((5, 2, 3), (3, 4)),
    ((2, 3), (5, 3, 4)), ((2, 1, 2, 3), (5, 3, 2)), ((1, 3), (3, 1)), ((4, 3), (2, 1, 3, 2)),
    ((4, 1), (1, 5)), ((2, 3, 1), (2, 1, 4)), ((3, 1), (2, 1, 4)), ((1,), (1, 3)),
])
def test_matmul_shapes(shape_a, shape_b, device):
    rng = np.random.default_rng(0)
    a = Tensor(rng.standard_normal(shape_a), device=device)
    b = Tensor(rng.standard_normal(shape_b), device=device)
    check_op(lambda x, y: x @ y, np.matmul, a, b)
    check_op(lambda x, y: x.dot(y), np.matmul, a, b, gradgrad=False)


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_outer_products_equal_numpys_matmul_bit_for_bit(dtype, device):
    """Products with an inner size of 1 (a depthwise convolution's backward) are a broadcast
    multiply on NumPy: the same single rounding per element as a matmul."""
    rng = np.random.default_rng(1)
    a, b = (rng.standard_normal(s).astype(dtype) for s in ((3, 4, 1), (3, 1, 5)))
    expected = np.matmul(a, b)
    got = (Tensor(a, device=device) @ Tensor(b, device=device)).numpy()
    assert got.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(got, expected)


@given(data=hst.data())
def test_matmul_drawn_batches(data, device):
    batch_a, batch_b = data.draw(st.broadcastable_shapes(max_dims=2, max_side=3))
    n, k, m = (data.draw(hst.integers(1, 3)) for _ in range(3))
    a = data.draw(st.tensors(batch_a + (n, k), device=device))
    b = data.draw(st.tensors(batch_b + (k, m), device=device))
    check_op(lambda x, y: x.matmul(y), np.matmul, a, b)


@pytest.mark.parametrize("activation,ref", [
    (None, lambda z: z), ("relu", lambda z: np.maximum(z, 0)),
    ("sigmoid", lambda z: 1 / (1 + np.exp(-z))), ("tanh", np.tanh),
    ("gelu_tanh", lambda z: 0.5 * z * (1 + np.tanh(np.sqrt(2 / np.pi) * (z + 0.044715 * z**3)))),
])
@pytest.mark.parametrize("x_shape", [(4, 3), (3,), (2, 2, 3)])
def test_linear(activation, ref, x_shape, device):
    rng = np.random.default_rng(1)
    x = Tensor(rng.standard_normal(x_shape), device=device)
    w = Tensor(rng.standard_normal((5, 3)), device=device)
    b = Tensor(rng.standard_normal(5), device=device)
    check_op(lambda x_, w_, b_: x_.linear(w_, b_, activation=activation),
             lambda x_, w_, b_: ref(x_ @ w_.T + b_), x, w, b)
    check_op(lambda x_, w_: x_.linear(w_), lambda x_, w_: x_ @ w_.T, x, w)


@pytest.mark.parametrize("spec,shapes", [
    ("ij,jk->ik", [(2, 3), (3, 4)]), ("ij,jk", [(2, 3), (3, 4)]), ("bij,bjk->bik",
                                                                   [(2, 2, 3), (2, 3, 2)]),
    ("i,i->", [(3,), (3,)]), ("i,j->ij", [(2,), (3,)]), ("ij->ji", [(2, 3)]),
    ("ij->j", [(2, 3)]), ("ij,jk->i", [(2, 3), (3, 4)]), ("...ij,...jk->...ik",
                                                          [(2, 2, 3), (3, 2)]),
    ("ij,ij->ij", [(2, 3), (2, 3)]), ("abc,cd,a->bd", [(2, 3, 2), (2, 3), (2,)]),
])
def test_einsum(spec, shapes, device):
    rng = np.random.default_rng(2)
    tensors = [Tensor(rng.standard_normal(s), device=device) for s in shapes]
    check_op(lambda *ts: Tensor.einsum(spec, *ts), lambda *arrays: np.einsum(spec, *arrays),
             *tensors)


@pytest.mark.parametrize("spec,shapes", [
    ("ii->i", [(3, 3)]), ("ii", [(3, 3)]), ("ii->", [(3, 3)]), ("iij->j", [(3, 3, 2)]),
    ("iji->j", [(3, 2, 3)]), ("iii->i", [(2, 2, 2)]), ("bii->bi", [(2, 3, 3)]),
    ("ii,ij->j", [(3, 3), (3, 2)]), ("ij,jj->i", [(2, 3), (3, 3)]), ("...ii->...i", [(2, 3, 3)]),
    ("ij,ij", [(2, 3), (2, 3)]),
])
def test_einsum_repeated_subscripts(spec, shapes, device):
    rng = np.random.default_rng(3)
    tensors = [Tensor(rng.standard_normal(s), device=device) for s in shapes]
    check_op(lambda *ts: Tensor.einsum(spec, *ts), lambda *arrays: np.einsum(spec, *arrays),
             *tensors)


def test_einsum_sublists_and_operand_list(device):
    rng = np.random.default_rng(4)
    a, b = (Tensor(rng.standard_normal(s), device=device) for s in ((2, 3), (3, 4)))
    check_op(lambda x, y: Tensor.einsum(x, [0, 1], y, [1, 2], [0, 2]), np.matmul, a, b)
    check_op(lambda x, y: Tensor.einsum(x, [0, 1], y, [1, 2]), np.matmul, a, b)
    check_op(lambda x, y: Tensor.einsum("ij,jk", [x, y]), np.matmul, a, b)


@given(data=hst.data())
def test_mm_bmm_mv_outer_drawn(data, device):
    n, k, m, b = (data.draw(hst.integers(1, 3)) for _ in range(4))
    x = data.draw(st.tensors((n, k), device=device))
    y = data.draw(st.tensors((k, m), device=device))
    v = data.draw(st.tensors((k,), device=device))
    w = data.draw(st.tensors((m,), device=device))
    check_op(lambda p, q: p.mm(q), np.matmul, x, y)
    check_op(lambda p, q: p.mv(q), np.matmul, x, v)
    check_op(lambda p, q: p.outer(q), np.outer, v, w)
    check_op(lambda p, q: p.ger(q), np.outer, v, w)
    check_op(lambda p, q: p.dot(q), np.dot, v, v)
    bx = data.draw(st.tensors((b, n, k), device=device))
    by = data.draw(st.tensors((b, k, m), device=device))
    check_op(lambda p, q: p.bmm(q), np.matmul, bx, by)


@pytest.mark.parametrize("dims,shape_b,np_axes", [
    (2, (3, 4, 2), 2), (1, (4, 3), 1), (0, (2, 2), 0), (([1, 2], [0, 1]), (3, 4, 2), None),
    (([0, 1], [2, 0]), (3, 4, 2), None), (([-1], [1]), (2, 4), ([2], [1])),
    ([[1], [0]], (3, 2), None), ("tensor", (3, 2), ([1], [0])),
])
def test_tensordot(dims, shape_b, np_axes, device):
    rng = np.random.default_rng(5)
    a = Tensor(rng.standard_normal((2, 3, 4)), device=device)
    b = Tensor(rng.standard_normal(shape_b), device=device)
    if dims == "tensor":
        dims = Tensor([[1], [0]], device=device)
    axes = dims if np_axes is None else np_axes
    check_op(lambda x, y: x.tensordot(y, dims), lambda x, y: np.tensordot(x, y, axes), a, b)


def test_products_of_empty_operands(device):
    assert Tensor.zeros(2, 0, device=device).mm(Tensor.zeros(0, 3, device=device)).tolist() == \
        [[0.0] * 3] * 2
    assert Tensor.zeros(0, device=device).outer(Tensor.ones(2, device=device)).shape == (0, 2)
    assert Tensor.zeros(0, 2, device=device).tensordot(Tensor.zeros(2, 0, device=device),
                                                       1).shape == (0, 0)


def _t(*shape):
    return Tensor(np.ones(shape))


@pytest.mark.parametrize("fn,exc,pattern", [
    (lambda: _t(2, 3).mm(_t(3)), RuntimeError, r"mm: both operands must be matrices .*\(3,\)"),
    (lambda: _t(2, 3).mm(_t(2, 3)), RuntimeError, r"mm: .*cannot be multiplied \(2x3 and 2x3\)"),
    (lambda: _t(2, 2, 3).bmm(_t(1, 3, 4)), RuntimeError, r"bmm: .*\(2, 3\).*\(1, 3, 4\)"),
    (lambda: _t(2, 3).bmm(_t(2, 3, 4)), RuntimeError, "bmm: both operands must be 3-D"),
    (lambda: _t(2, 3).mv(_t(2)), RuntimeError, r"mv: .*\(2, 3\) and \(2,\)"),
    (lambda: _t(2, 3).outer(_t(3)), RuntimeError, r"outer: expects two 1-D tensors.*\(2, 3\)"),
    (lambda: _t(2, 3).tensordot(_t(3, 4), 3), RuntimeError, r"tensordot: dims must be in \[0, 2"),
    (lambda: _t(2, 3).tensordot(_t(3, 4), ([1], [1])), RuntimeError,
     "contracted dimensions need to match"),
    (lambda: _t(2, 3).tensordot(_t(3, 4), ([1, 1], [0, 0])), RuntimeError, "distinct dims"),
    (lambda: _t(2, 3).tensordot(_t(3, 4), "x"), TypeError, "dims must be an int or a pair"),
    (lambda: Tensor.einsum("ij->ii", _t(2, 2)), ValueError, "appears more than once"),
    (lambda: Tensor.einsum("ii->i", _t(2, 3)), ValueError, "sizes don't match, 2 != 3"),
    (lambda: Tensor.einsum(_t(2), [99]), ValueError, "sublist holds ints"),
])
def test_matrix_bad_input(fn, exc, pattern):
    with pytest.raises(exc, match=pattern):
        fn()


@pytest.mark.parametrize("fn", [lambda: _t(2, 3) @ _t(4, 2), lambda: Tensor(1.0) @ _t(2),
                                lambda: _t(2, 3).dot(_t(2)),
                                lambda: Tensor.einsum("ij,jk", _t(2, 3), _t(4, 2))])
def test_shape_errors_are_value_and_runtime_errors(fn):
    with pytest.raises(ValueError):
        fn()
    with pytest.raises(RuntimeError):
        fn()
