"""gather, scatter, scatter_add, scatter_reduce, index_select, take_along_dim: values against
PyTorch's rules written out in NumPy, gradients and second derivatives on drawn shapes and
dims, repeated indices, ties (amax/amin share the gradient), zeros (prod), integers."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as hst

from tests.helpers import check_op
from tinygrad_nv import Tensor, dtypes
from tinygrad_nv.testing import gradgradcheck
from tinygrad_nv.testing import strategies as st


def _x(device, shape=(2, 3, 4)):
    return Tensor(np.random.default_rng(0).standard_normal(shape), device=device)


def _gather(a, axis, index):
    """torch.gather written out: out[i, j] = a[index[i, j], j] for axis 0, and so on."""
    out = np.empty(index.shape, a.dtype)
    for pos in np.ndindex(index.shape):
        source = list(pos)
        source[axis] = index[pos]
        out[pos] = a[tuple(source)]
    return out


def _scatter_reduce(a, axis, index, src, reduce, include_self=True):
    """torch.scatter_reduce written out (also scatter for reduce='none')."""
    out, groups = a.copy(), {}
    for pos in np.ndindex(index.shape):
        target = list(pos)
        target[axis] = index[pos]
        groups.setdefault(tuple(target), []).append(src[pos])
    for target, values in groups.items():
        values = ([a[target]] if include_self and reduce != "none" else []) + values
        combine = {"none": lambda v: v[-1], "sum": np.sum, "prod": np.prod, "mean": np.mean,
                   "amax": np.max, "amin": np.min}[reduce]
        out[target] = combine(values)
        if reduce == "mean" and a.dtype.kind != "f":
            out[target] = np.floor_divide(np.sum(values), len(values))
    return out


@hst.composite
def _gather_case(draw, device, larger_src=False):
    """x, a dim (maybe negative), an index no larger than x outside dim, and a src (values
    away from 0 and from each other)."""
    x = draw(st.tensors(shape=st.shapes(min_dims=1, max_dims=3, max_side=3), device=device))
    dim = draw(hst.integers(-x.ndim, x.ndim - 1))
    axis = dim % x.ndim
    shape = tuple(draw(hst.integers(1 if a != axis else 0, n if a != axis else 4))
                  for a, n in enumerate(x.shape))
    index = np.asarray(draw(hst.lists(hst.integers(0, x.shape[axis] - 1),
                                      min_size=int(np.prod(shape)),
                                      max_size=int(np.prod(shape))))).reshape(shape)
    src_shape = tuple(n + (draw(hst.integers(0, 1)) if larger_src else 0) for n in shape)
    src = np.random.default_rng(draw(hst.integers(0, 2**16))).uniform(0.5, 2, src_shape)
    src = Tensor(src * np.sign(np.cos(np.arange(src.size))).reshape(src_shape), device=device)
    return x, dim, Tensor(index.astype(np.int64), device=device), src


@given(data=hst.data())
def test_gather_drawn(data, device):
    x, dim, index, _ = data.draw(_gather_case(device))
    check_op(lambda t: t.gather(dim, index), lambda a: _gather(a, dim % a.ndim, index.numpy()),
             x)


@given(data=hst.data())
def test_scatter_add_drawn(data, device):
    x, dim, index, src = data.draw(_gather_case(device, larger_src=True))
    idx = index.numpy()
    sub = tuple(slice(0, n) for n in idx.shape)
    check_op(lambda t, s: t.scatter_add(dim, index, s),
             lambda a, s: _scatter_reduce(a, dim % a.ndim, idx, s[sub], "sum"), x, src)


@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax", "amin"])
@given(data=hst.data())
def test_scatter_reduce_drawn(reduce, data, device):
    x, dim, index, src = data.draw(_gather_case(device))
    include_self = data.draw(hst.booleans())
    check_op(lambda t, s: t.scatter_reduce(dim, index, s, reduce, include_self=include_self),
             lambda a, s: _scatter_reduce(a, dim % a.ndim, index.numpy(), s, reduce,
                                          include_self), x, src, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax", "amin"])
@pytest.mark.parametrize("include_self", [True, False])
def test_scatter_reduce_integers(reduce, include_self, device):
    a, src = np.array([1, -2, 3, 4]), np.array([5, -7, 8, 2, -3])
    idx = np.array([0, 1, 0, 1, 1])
    got = Tensor(a, device=device).scatter_reduce(0, Tensor(idx, device=device),
                                                  Tensor(src, device=device), reduce,
                                                  include_self=include_self)
    assert got.dtype == dtypes.int64
    np.testing.assert_array_equal(got.numpy(),
                                  _scatter_reduce(a, 0, idx, src, reduce, include_self))


def test_scatter_reduce_ties_share_the_gradient(device):
    x = Tensor([1.0, 2.0, 3.0, 4.0], device=device, requires_grad=True)
    src = Tensor([5.0, 2.0, 7.0, 2.0], device=device, requires_grad=True)
    out = x.scatter_reduce(0, Tensor([0, 1, 0, 1], device=device), src, "amax")
    out.backward(Tensor([1.0, 10.0, 100.0, 1000.0], device=device))
    # place 1 holds 2 three times (x[1], src[1], src[3]): each gets a third of 10
    np.testing.assert_allclose(x.grad.numpy(), [0.0, 10 / 3, 100.0, 1000.0])
    np.testing.assert_allclose(src.grad.numpy(), [0.0, 10 / 3, 1.0, 10 / 3])


def test_scatter_reduce_prod_gradient_with_zeros(device):
    x = Tensor([0.0, 2.0, 3.0], device=device, requires_grad=True)
    src = Tensor([5.0, 0.0, 7.0, 2.0], device=device, requires_grad=True)
    out = x.scatter_reduce(0, Tensor([0, 1, 0, 1], device=device), src, "prod")
    out.backward(Tensor([1.0, 10.0, 100.0], device=device))
    # out[0] = x0*5*7 with x0 = 0; out[1] = x1*0*2 with one zero in src
    np.testing.assert_allclose(x.grad.numpy(), [35.0, 0.0, 100.0])
    np.testing.assert_allclose(src.grad.numpy(), [0.0, 40.0, 0.0, 0.0])
    gradgradcheck(lambda t, s: t.scatter_reduce(0, Tensor([0, 1, 0, 1], device=device), s,
                                                "prod"), [x.detach(), src.detach()])


def test_scatter_writes_and_values(device):
    x = _x(device, (3, 4))
    index = Tensor([[0, 1, 2], [3, 2, 1]], device=device)
    src = _x(device, (2, 3)) * 2
    check_op(lambda t, s: t.scatter(1, index, s),
             lambda a, s: _scatter_reduce(a, 1, index.numpy(), s, "none"), x, src)
    check_op(lambda t: t.scatter(1, index, -2.5),
             lambda a: _scatter_reduce(a, 1, index.numpy(), np.full((2, 3), -2.5), "none"), x)
    check_op(lambda t, s: t.scatter(1, index, s, reduce="add"),
             lambda a, s: _scatter_reduce(a, 1, index.numpy(), s, "sum"), x, src)
    check_op(lambda t, s: t.scatter(1, index, s, reduce="multiply"),
             lambda a, s: _scatter_reduce(a, 1, index.numpy(), s, "prod"), x, src)
    assert Tensor(2.0, device=device).scatter(0, Tensor(0, device=device), 5.0).item() == 5.0


@given(data=hst.data())
def test_index_select_and_take_along_dim_drawn(data, device):
    x, dim, index, _ = data.draw(_gather_case(device))
    axis = dim % x.ndim
    picks = index.reshape(-1)
    check_op(lambda t: t.index_select(dim, picks),
             lambda a: np.take(a, picks.numpy(), axis=axis), x)
    along = index[tuple(slice(None) if a == axis else slice(0, 1) for a in range(x.ndim))]
    shape = list(x.shape)
    shape[axis] = along.shape[axis]
    check_op(lambda t: t.take_along_dim(along, dim),
             lambda a: np.take_along_axis(a, np.broadcast_to(along.numpy(), shape), axis), x)
    check_op(lambda t: t.take_along_dim(picks), lambda a: a.reshape(-1)[picks.numpy()], x)


def test_take_along_dim_broadcasts(device):
    x = _x(device, (3, 1, 4))
    idx = Tensor([[[3], [0]]], device=device)
    check_op(lambda t: t.take_along_dim(idx, -1),
             lambda a: np.take_along_axis(np.broadcast_to(a, (3, 2, 4)),
                                          np.broadcast_to(idx.numpy(), (3, 2, 1)), -1), x)
