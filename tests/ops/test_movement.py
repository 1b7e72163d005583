"""Movement ops that keep every element: reshape, permute, movedim, unflatten, expand,
cat/stack/hstack/vstack, split/chunk, transfers."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as hst

from tests.helpers import check_op
from tinygrad_nv import Tensor
from tinygrad_nv.testing import strategies as st


def _x(device, shape=(2, 3, 4)):
    return Tensor(np.random.default_rng(0).standard_normal(shape), device=device)


@pytest.mark.parametrize("fn,ref", [
    (lambda t: t.reshape(4, -1), lambda a: a.reshape(4, -1)),
    (lambda t: t.view((6, 4)), lambda a: a.reshape(6, 4)),
    (lambda t: t.permute(2, 0, 1), lambda a: a.transpose(2, 0, 1)),
    (lambda t: t.transpose(0, -1), lambda a: a.swapaxes(0, -1)),
    (lambda t: t.T, lambda a: a.T),
    (lambda t: t.mT, lambda a: np.swapaxes(a, -1, -2)),
    (lambda t: t.flatten(), lambda a: a.reshape(-1)),
    (lambda t: t.flatten(1), lambda a: a.reshape(2, -1)),
    (lambda t: t.unsqueeze(-1), lambda a: a[..., None]),
    (lambda t: t.unsqueeze(0).squeeze(0), lambda a: a),
    (lambda t: t[:, :1].squeeze(), lambda a: a[:, 0]),
    (lambda t: t[:, :1].squeeze(dim=2), lambda a: a[:, :1]),
    (lambda t: t[:, :1].expand(2, 3, 4), lambda a: np.broadcast_to(a[:, :1], (2, 3, 4))),
    (lambda t: t[None].expand(5, -1, -1, -1), lambda a: np.broadcast_to(a, (5, 2, 3, 4))),
    (lambda t: t.movedim(0, -1), lambda a: np.moveaxis(a, 0, -1)),
    (lambda t: t.movedim((0, -1), (2, 0)), lambda a: np.moveaxis(a, (0, -1), (2, 0))),
    (lambda t: t.moveaxis([1], [0]), lambda a: np.moveaxis(a, 1, 0)),
    (lambda t: t.swapaxes(0, 2), lambda a: np.swapaxes(a, 0, 2)),
    (lambda t: t.swapdims(-1, 1), lambda a: np.swapaxes(a, -1, 1)),
    (lambda t: t.swapaxes(axis0=1, axis1=0), lambda a: np.swapaxes(a, 1, 0)),
    (lambda t: t.swapdims(dim0=1, dim1=2), lambda a: np.swapaxes(a, 1, 2)),
    (lambda t: t.unflatten(-1, (2, -1)), lambda a: a.reshape(2, 3, 2, 2)),
    (lambda t: t.unflatten(1, [1, 3, 1]), lambda a: a.reshape(2, 1, 3, 1, 4)),
    (lambda t: t.hstack(t), lambda a: np.hstack([a, a])),
    (lambda t: Tensor.vstack([t, t * 2]), lambda a: np.vstack([a, a * 2])),
    (lambda t: Tensor.hstack(t[0, 0], t[1, 1]), lambda a: np.hstack([a[0, 0], a[1, 1]])),
    (lambda t: Tensor.vstack(t[0, 0], t[1, 1]), lambda a: np.vstack([a[0, 0], a[1, 1]])),
])
def test_movement(fn, ref, device):
    check_op(fn, ref, _x(device))


@given(data=hst.data())
def test_cat_and_stack(data, device):
    shape = data.draw(st.shapes(min_dims=1, max_dims=3))
    axis = data.draw(hst.integers(-len(shape), len(shape) - 1))
    a = data.draw(st.tensors(shape, device=device))
    other = list(shape)
    other[axis] = data.draw(hst.integers(1, 3))
    b = data.draw(st.tensors(tuple(other), device=device))
    check_op(lambda x, y: Tensor.cat(x, y, dim=axis), lambda x, y: np.concatenate([x, y], axis),
             a, b)
    check_op(lambda x, y: x.cat(x, y, dim=axis), lambda x, y: np.concatenate([x, x, y], axis),
             a, b)
    check_op(lambda x: Tensor.stack([x, x * 2], dim=axis), lambda x: np.stack([x, x * 2], axis),
             a)


@pytest.mark.parametrize("size_or_sections,dim", [(2, 0), (1, 1), ([1, 2, 1], 2), (3, -1)])
def test_split(size_or_sections, dim, device):
    x = _x(device)
    a = x.numpy()
    pieces = x.split(size_or_sections, dim=dim)
    if isinstance(size_or_sections, int):
        bounds = list(range(size_or_sections, a.shape[dim], size_or_sections))
    else:
        bounds = list(np.cumsum(size_or_sections)[:-1])
    expected = np.split(a, bounds, axis=dim)
    assert len(pieces) == len(expected)
    for got, want in zip(pieces, expected):
        np.testing.assert_array_equal(got.numpy(), want)
    check_op(lambda t: Tensor.cat(*[p * (i + 1) for i, p in
                                    enumerate(t.split(size_or_sections, dim))], dim=dim),
             lambda a_: np.concatenate([p * (i + 1) for i, p in
                                        enumerate(np.split(a_, bounds, axis=dim))], axis=dim), x)


@pytest.mark.parametrize("n,chunks,expected_sizes", [(6, 3, [2, 2, 2]), (5, 2, [3, 2]),
                                                     (6, 4, [2, 2, 2]), (2, 5, [1, 1])])
def test_chunk_matches_torch_sizes(n, chunks, expected_sizes, device):
    x = Tensor.arange(n, device=device)
    assert [len(c) for c in x.chunk(chunks)] == expected_sizes
    np.testing.assert_array_equal(Tensor.cat(*x.chunk(chunks)).numpy(), np.arange(n))


def test_to_device_round_trip_keeps_gradient(device):
    x = Tensor([1.0, 2.0], device=device, requires_grad=True)
    y = (x.to("cpu") * 3).to(device).sum()
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])
    assert x.grad.device == x.device


@given(data=hst.data())
def test_movedim_drawn(data, device):
    x = data.draw(st.tensors(shape=st.shapes(min_dims=1, max_dims=4, max_side=3),
                             device=device))
    count = data.draw(hst.integers(1, x.ndim))
    axes = hst.lists(hst.integers(-x.ndim, x.ndim - 1), min_size=count, max_size=count,
                     unique_by=lambda a: a % x.ndim)
    source, destination = data.draw(axes), data.draw(axes)
    check_op(lambda t: t.movedim(source, destination),
             lambda a: np.moveaxis(a, source, destination), x)


def test_movedim_unflatten_of_0d_and_empty(device):
    assert Tensor(2.0, device=device).movedim(0, 0).shape == ()
    assert Tensor.zeros(2, 0, device=device).unflatten(1, (0, 5)).shape == (2, 0, 5)
    assert Tensor.zeros(2, 0, device=device).movedim(1, 0).shape == (0, 2)


def test_transpose_of_0d_swaps_its_axis_with_itself(device):  # as PyTorch (it raised)
    x = Tensor(2.0, device=device, requires_grad=True)
    for dims in ((0, 0), (-1, 0), (-1, -1)):
        assert x.transpose(*dims).shape == () and x.transpose(*dims).item() == 2.0
    x.transpose(0, 0).backward()
    assert x.grad.item() == 1.0


@pytest.mark.parametrize("fn,exc,pattern", [
    (lambda t: t.movedim((0, 0), (1, 2)), RuntimeError, "repeated dim in `source`"),
    (lambda t: t.movedim(3, 0), IndexError, r"axis 3 is out of range.*\(2, 3, 4\)"),
    (lambda t: t.unflatten(-1, (3, -1)), RuntimeError, r"sizes \[3, -1\].*\(4\).*\(2, 3, 4\)"),
    (lambda t: t.unflatten(0, ()), RuntimeError, "non-empty"),
    (lambda t: t[0, 0, 0].unflatten(0, (1,)), RuntimeError, "0-d"),
    (lambda t: t[0, 0].mT, RuntimeError, r"mT: only supported on matrices .*\(4,\)"),
])
def test_movement_bad_input(fn, exc, pattern, device):
    with pytest.raises(exc, match=pattern):
        fn(_x(device))


def test_t_transposes_matrices_only(device):
    a = np.arange(6.0).reshape(2, 3)
    check_op(lambda x: x.t(), lambda x: x.T, Tensor(a, device=device))
    v = Tensor(np.arange(3.0), device=device)
    np.testing.assert_array_equal(v.t().numpy(), v.numpy())
    with pytest.raises(RuntimeError, match="t: expects a tensor with <= 2 dimensions"):
        Tensor.zeros(2, 2, 2, device=device).t()
