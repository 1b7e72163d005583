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
])
def test_matmul_shapes(shape_a, shape_b, device):
    rng = np.random.default_rng(0)
    a = Tensor(rng.standard_normal(shape_a), device=device)
    b = Tensor(rng.standard_normal(shape_b), device=device)
    check_op(lambda x, y: x @ y, np.matmul, a, b)
    check_op(lambda x, y: x.dot(y), np.matmul, a, b, gradgrad=False)


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
