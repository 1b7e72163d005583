"""In-place shape changes (unsqueeze_, squeeze_, t_, transpose_, swapaxes_, swapdims_): the
tensor takes the view's shape over its own storage, as PyTorch's do; refused where the change
would be recorded in a graph."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_nv as tg

CHANGES = [  # (method, args, the NumPy view it matches)
    ("unsqueeze_", (0,), lambda a: a[None]),
    ("unsqueeze_", (-1,), lambda a: a[..., None]),
    ("squeeze_", (), np.squeeze),
    ("squeeze_", (1,), lambda a: np.squeeze(a, 1)),
    ("t_", (), lambda a: a.T),
    ("transpose_", (0, 2), lambda a: np.swapaxes(a, 0, 2)),
    ("swapaxes_", (0, 1), lambda a: np.swapaxes(a, 0, 1)),
    ("swapdims_", (-1, 0), lambda a: np.swapaxes(a, -1, 0)),
]


@pytest.mark.parametrize("method, args, numpy_view", CHANGES)
def test_shape_values_storage_and_version(method, args, numpy_view, device):
    shape = (2, 3) if method == "t_" else (2, 1, 3)
    values = np.arange(6, dtype=np.float32).reshape(shape)
    x = tg.tensor(values, device=device)
    before, row = x._version, x[0]  # a view taken before the change
    assert getattr(x, method)(*args) is x
    expected = numpy_view(values)
    assert tuple(x.shape) == expected.shape and x._version == before + 1
    np.testing.assert_array_equal(x.numpy(), expected)
    x.mul_(2)  # the same storage: the earlier view sees the change
    np.testing.assert_array_equal(row.numpy(), 2 * values[0])


@pytest.mark.parametrize("method, args, numpy_view", CHANGES)
def test_same_shapes_as_pytorch(method, args, numpy_view):
    torch = pytest.importorskip("torch")
    shape = (2, 3) if method == "t_" else (2, 1, 3)
    ours, theirs = tg.zeros(*shape), torch.zeros(*shape)
    getattr(ours, method)(*args)
    getattr(theirs, method)(*args)
    assert tuple(ours.shape) == tuple(theirs.shape) and ours.stride() == theirs.stride()


def test_refused_where_the_graph_would_record_it():
    leaf = tg.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="unsqueeze_: a leaf tensor that requires grad"):
        leaf.unsqueeze_(0)
    with pytest.raises(RuntimeError, match=r"t_: a tensor computed in a recorded graph.*x\.t\("):
        (leaf * 2).unsqueeze(0).t_()
    with tg.no_grad():  # as PyTorch: allowed outside the graph
        leaf.unsqueeze_(0)
    assert tuple(leaf.shape) == (1, 2) and leaf.requires_grad
