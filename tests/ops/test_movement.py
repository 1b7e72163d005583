"""Movement ops: reshape/permute/expand/pad, indexing (basic and gather), cat/stack/split."""

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
    (lambda t: t.flatten(), lambda a: a.reshape(-1)),
    (lambda t: t.flatten(1), lambda a: a.reshape(2, -1)),
    (lambda t: t.unsqueeze(-1), lambda a: a[..., None]),
    (lambda t: t.unsqueeze(0).squeeze(0), lambda a: a),
    (lambda t: t[:, :1].squeeze(), lambda a: a[:, 0]),
    (lambda t: t[:, :1].squeeze(dim=2), lambda a: a[:, :1]),
    (lambda t: t[:, :1].expand(2, 3, 4), lambda a: np.broadcast_to(a[:, :1], (2, 3, 4))),
    (lambda t: t[None].expand(5, -1, -1, -1), lambda a: np.broadcast_to(a, (5, 2, 3, 4))),
    (lambda t: t.pad(((1, 0), None, (2, 1))), lambda a: np.pad(a, ((1, 0), (0, 0), (2, 1)))),
    (lambda t: t.pad((1, 2)), lambda a: np.pad(a, ((0, 0), (0, 0), (1, 2)))),
    (lambda t: t.pad((1, 2, 0, 3), value=-1.5),
     lambda a: np.pad(a, ((0, 0), (0, 3), (1, 2)), constant_values=-1.5)),
])
def test_movement(fn, ref, device):
    check_op(fn, ref, _x(device))


INDICES = [
    1, -1, (1, 2), (slice(None), 1), (Ellipsis, 0), (None, 0), (slice(None, None, 2),),
    (slice(1, None), slice(None, None, -1) if False else slice(0, 3, 2), slice(3, 0, None)),
    (0, Ellipsis, None), ([0, 0, 1],), (slice(None), [2, 0, 2, 1]), ([1, 0], [0, 2]),
    (Ellipsis, [3, 3, 0]), (1, [0, 1, 1], slice(1, 3)),
]


@pytest.mark.parametrize("index", INDICES, ids=str)
def test_getitem(index, device):
    check_op(lambda t: t[index], lambda a: a[index], _x(device))


def test_getitem_with_tensor_index_and_bool_mask(device):
    x = _x(device)
    idx = Tensor([2, 0, 2], device=device)
    check_op(lambda t: t[:, idx], lambda a: a[:, [2, 0, 2]], x)
    mask = Tensor(np.array([True, False]), device=device)
    check_op(lambda t: t[mask], lambda a: a[np.array([True, False])], x)


def test_gather_backward_accumulates_repeated_indices(device):
    x = Tensor([1.0, 2.0, 3.0], device=device, requires_grad=True)
    x[[0, 0, 2, 0]].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 0.0, 1.0])


@given(data=hst.data())
def test_getitem_drawn_slices(data, device):
    x = data.draw(st.tensors(shape=st.shapes(min_dims=1, max_dims=3), device=device))
    index = tuple(slice(data.draw(hst.integers(-n, n)), data.draw(hst.integers(-n, n)),
                        data.draw(hst.integers(1, 3))) for n in x.shape)
    check_op(lambda t: t[index], lambda a: a[index], x)


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
