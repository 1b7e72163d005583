"""Indexing: x[index] with PyTorch's rules and x[index] = value; masked_fill, masked_select,
nonzero, one_hot; bad input and out-of-range indices for these and ops/gather_scatter.py.
Values against NumPy, gradients and second derivatives, repeated and negative indices, empty
and 0-d tensors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as hst

import tinygrad_nv.nn.functional as F
from tests.helpers import check_op
from tinygrad_nv import Tensor, dtypes
from tinygrad_nv.backend import get_backend
from tinygrad_nv.backend.numpy_kernels import NumpyKernels
from tinygrad_nv.testing import gradcheck, gradgradcheck
from tinygrad_nv.testing import strategies as st


def _x(device, shape=(2, 3, 4)):
    return Tensor(np.random.default_rng(0).standard_normal(shape), device=device)


def _host_checks_only(device):
    """Index values on a GPU are not read back (no sync), so only host arrays are checked."""
    if device.startswith("cuda"):
        pytest.skip("out-of-range index values on a GPU are not read back")


# ---------------------------------------------------------------------- x[index]
INDICES = [
    1, -1, (1, 2), (slice(None), 1), (Ellipsis, 0), (None, 0), (slice(None, None, 2),),
    (slice(1, None), slice(0, 3, 2), slice(3, 0, None)), (0, Ellipsis, None), ([0, 0, 1],),
    (slice(None), [2, 0, 2, 1]), ([1, 0], [0, 2]), (Ellipsis, [3, 3, 0]), ([-1, -2],),
    (slice(None, None, -1),), (slice(None), slice(2, None, -2), slice(-1, 0, -3)),
    (slice(-100, 100),), (slice(3, 1),), ([[0, 1], [1, 1]], slice(None), [[0], [3]]),
    ([0, 1], slice(None), [0, 3]), (None, [1, 0], None, [2, 2]), ([], ), (slice(None), []),
    (np.array([1, 0]),), (True,), (False, 0), (Ellipsis, None),
]


@pytest.mark.parametrize("index", INDICES, ids=str)
def test_getitem(index, device):
    check_op(lambda t: t[index], lambda a: a[index], _x(device))


@pytest.mark.parametrize("index,reference", [
    # integers index first (a basic select), then the gather: PyTorch's shapes, not NumPy's
    ((1, slice(None), [1, 2]), lambda a: a[1][:, [1, 2]]),
    ((slice(None), 0, [3, 1, 1]), lambda a: a[:, 0][:, [3, 1, 1]]),
    (([1, 0], 2), lambda a: a[:, 2][[1, 0]]),
    (([1, 0], 2, [0, 3]), lambda a: a[:, 2][[1, 0], [0, 3]]),
    # a list holding a sequence, slice or None is a tuple of indices, as in PyTorch
    ([[0, 1]], lambda a: a[[0, 1]]), ([[1, 0], [2, 2]], lambda a: a[[1, 0], [2, 2]]),
    ([0, [1, 2]], lambda a: a[0, [1, 2]]), ([1, slice(None), None], lambda a: a[1, :, None]),
    # lists of bools are masks
    ([True, False], lambda a: a[np.array([True, False])]),
    ((slice(None), [False, True, True]), lambda a: a[:, np.array([False, True, True])]),
])
def test_getitem_follows_pytorch(index, reference, device):
    check_op(lambda t: t[index], reference, _x(device))


def test_getitem_with_tensors(device):
    x = _x(device)
    a = x.numpy()
    idx = Tensor([[2, 0], [-1, 1]], device=device)
    check_op(lambda t: t[:, idx], lambda b: b[:, [[2, 0], [-1, 1]]], x)
    both = Tensor([[1, 0], [-1, 1]], device=device)  # valid on axes 0 and 2
    check_op(lambda t: t[both, :, both], lambda b: b[[[1, 0], [-1, 1]], :, [[1, 0], [-1, 1]]],
             x)
    mask = x > 0.3
    check_op(lambda t: t[mask], lambda b: b[a > 0.3], x)
    check_op(lambda t: t[:, mask[0]], lambda b: b[:, a[0] > 0.3], x)
    check_op(lambda t: t[:, mask[0, :, 0]], lambda b: b[:, a[0, :, 0] > 0.3], x)
    check_op(lambda t: t[Tensor(1, device=device)], lambda b: b[1], x)
    check_op(lambda t: t[Tensor(True, device=device)], lambda b: b[None], x)


def test_index_tensor_on_another_device_is_copied_over(device):
    x = _x(device)
    check_op(lambda t: t[Tensor([1, 0, 1], device="cpu")], lambda a: a[[1, 0, 1]], x)


def test_advanced_indices_separated_by_a_slice(device):
    x = Tensor(np.arange(210.0).reshape(5, 6, 7), device=device)
    idx = Tensor([0, 4, 4], device=device)
    assert x[idx, :, idx].shape == (3, 6)
    np.testing.assert_array_equal(x[idx, :, idx].numpy(),
                                  np.arange(210.0).reshape(5, 6, 7)[[0, 4, 4], :, [0, 4, 4]])
    assert x[[0, 1]].shape == (2, 6, 7) and x[[[0, 1]]].shape == (2, 6, 7)
    assert x[1, :, [1, 2]].shape == (6, 2)


@given(data=hst.data())
def test_getitem_drawn_slices(data, device):
    x = data.draw(st.tensors(shape=st.shapes(min_dims=1, max_dims=3), device=device))
    index = tuple(slice(data.draw(hst.one_of(hst.none(), hst.integers(-n - 1, n + 1))),
                        data.draw(hst.one_of(hst.none(), hst.integers(-n - 1, n + 1))),
                        data.draw(hst.sampled_from([None, 1, 2, 3, -1, -2, -3])))
                  for n in x.shape)
    check_op(lambda t: t[index], lambda a: a[index], x)


@given(data=hst.data())
def test_getitem_drawn_gathers(data, device):
    x = data.draw(st.tensors(shape=st.shapes(min_dims=1, max_dims=3), device=device))
    axis = data.draw(hst.integers(0, x.ndim - 1))
    n = x.shape[axis]
    picks = data.draw(hst.lists(hst.integers(-n, n - 1), min_size=0, max_size=5))
    index = (slice(None),) * axis + (Tensor(picks, dtype=dtypes.int64, device=device),)
    check_op(lambda t: t[index], lambda a: a[(slice(None),) * axis + (np.array(picks, int),)], x)
    mask = data.draw(st.tensors(shape=x.shape[:axis + 1], dtype=dtypes.bool, device=device))
    check_op(lambda t: t[mask], lambda a: a[mask.numpy()], x)


def test_gather_backward_accumulates_repeated_indices(device):
    x = Tensor([1.0, 2.0, 3.0], device=device, requires_grad=True)
    x[[0, 0, 2, -3]].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 0.0, 1.0])


@given(data=hst.data())
def test_row_gather_gradient_is_add_at_bit_for_bit(data, device):
    """x[index] on the first axis (embedding's backward) sends g back through
    kernels.index_add_rows: the same sums, in the same order, as NumPy's add.at."""
    rows = data.draw(hst.integers(1, 9))
    rest = data.draw(st.shapes(min_dims=0, max_dims=2))
    lead = data.draw(st.shapes(min_dims=0, max_dims=2))
    dtype = data.draw(hst.sampled_from([np.float32, np.float64]))
    rng = np.random.default_rng(data.draw(hst.integers(0, 2**16)))
    picks = rng.integers(-rows, rows, lead)
    g = np.asarray(rng.standard_normal((*lead, *rest)) * 10.0 ** rng.integers(-6, 6, lead + rest),
                   dtype)
    x = Tensor(np.zeros((rows, *rest), dtype), device=device, requires_grad=True)
    x[Tensor(picks, device=device)].backward(Tensor(g, device=device))
    expected = np.zeros((rows, *rest), dtype)
    np.add.at(expected, picks, g)
    np.testing.assert_array_equal(x.grad.numpy(), expected)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_embedding_gradient_equals_pytorch(dtype, device):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    weight, idx = rng.standard_normal((65, 16)).astype(dtype), rng.integers(0, 65, (64, 32))
    g = rng.standard_normal((64, 32, 16)).astype(dtype)
    theirs = torch.tensor(weight, requires_grad=True)
    torch.nn.functional.embedding(torch.tensor(idx), theirs).backward(torch.tensor(g))
    ours = Tensor(weight, device=device, requires_grad=True)
    F.embedding(Tensor(idx, device=device), ours).backward(Tensor(g, device=device))
    np.testing.assert_array_equal(ours.grad.numpy(), theirs.grad.numpy())


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
@pytest.mark.parametrize("count, rows, cols", [(300, 7, 5), (0, 3, 4), (5, 40, 33), (64, 2, 0)])
def test_index_add_rows_on_emu_matches_the_numpy_reference(count, rows, cols, dtype):
    rng = np.random.default_rng(0)
    index = rng.integers(0, min(rows, 6), count)  # rows past 6 get nothing
    values = rng.standard_normal((count, cols)).astype(dtype)
    got = get_backend("emu").kernels.index_add_rows(index, values, rows)
    want = NumpyKernels(np).index_add_rows(index, values, rows)
    expected = np.zeros((rows, cols), dtype)
    np.add.at(expected, index, values)
    np.testing.assert_array_equal(want, expected)
    assert got.dtype == dtype and got.shape == (rows, cols)
    if dtype == np.float16:  # CUDA adds float16 up in float32, NumPy rounds every step
        np.testing.assert_allclose(got, want, rtol=1e-2, atol=1e-2)
    else:
        np.testing.assert_array_equal(got, want)


def test_empty_and_0d_indexing(device):
    s = Tensor(3.0, device=device)
    assert s[None].shape == (1,) and s[...].shape == () and s[True].shape == (1,)
    e = Tensor.zeros(0, 3, device=device)
    assert e[:, 1].shape == (0,) and e[[]].shape == (0, 3) and e[e > 0].shape == (0,)


@pytest.mark.parametrize("index", [(1, slice(None), [1, 2]), ([0, 1], slice(None), [0, 3]),
                                   (slice(None, None, -1),), ([True, False],), ([0, 0], 1),
                                   (Ellipsis, slice(3, 0, -2)), 1])
def test_setitem(index, device):
    a = np.random.default_rng(1).standard_normal((2, 3, 4))
    x = Tensor(a.copy(), device=device)
    shape = x[index].shape
    value = np.arange(float(np.prod(shape))).reshape(shape)
    x[index] = Tensor(value, device=device)
    expected = a.copy()
    if index == (1, slice(None), [1, 2]):  # PyTorch's order of the result's axes
        expected[1][:, [1, 2]] = value
    else:
        expected[index] = value
    np.testing.assert_array_equal(x.numpy(), expected)
    x[index] = 7.0
    expected[index] = 7.0
    np.testing.assert_array_equal(x.numpy(), expected)


def test_setitem_errors(device):
    x = _x(device)
    with pytest.raises(RuntimeError, match=r"__setitem__: cannot assign a value of shape "
                                           r"\(5,\).*\(2, 3, 4\)"):
        x[0] = Tensor.zeros(5, device=device)
    with pytest.raises(RuntimeError, match="requires grad"):
        Tensor([1.0], device=device, requires_grad=True)[0] = 2.0


# ---------------------------------------------------------------------- masks
@given(data=hst.data())
def test_masked_fill_and_select_drawn(data, device):
    x_shape, mask_shape = data.draw(st.broadcastable_shapes(max_dims=3, max_side=3))
    x = data.draw(st.tensors(shape=x_shape, device=device))
    mask = data.draw(st.tensors(shape=mask_shape, dtype=dtypes.bool, device=device))
    m = mask.numpy()
    value = data.draw(hst.sampled_from([-1.5, 0.0, float("-inf")]))
    check_op(lambda t: t.masked_fill(mask, value), lambda a: np.where(m, value, a), x,
             grad=np.isfinite(value), gradgrad=np.isfinite(value))
    shape = np.broadcast_shapes(x_shape, mask_shape)
    check_op(lambda t: t.masked_select(mask),
             lambda a: np.broadcast_to(a, shape)[np.broadcast_to(m, shape)], x)


def test_masked_fill_value_tensor_gets_the_gradient(device):
    x = Tensor([1.0, 2.0, 3.0, 4.0], device=device, requires_grad=True)
    v = Tensor(9.0, device=device, requires_grad=True)
    mask = Tensor([True, False, True, True], device=device)
    x.masked_fill(mask, v).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 1.0, 0.0, 0.0])
    assert v.grad.item() == 3.0
    gradgradcheck(lambda t, w: (t.masked_fill(mask, w) ** 2).sum(),
                  [x.detach().double(), v.detach().double()])


def test_masked_fill_keeps_dtype(device):
    i = Tensor([1, 2, 3], device=device)
    out = i.masked_fill(Tensor([True, False, True], device=device), 2.7)
    assert out.dtype == dtypes.int64 and out.tolist() == [2, 2, 2]
    f = Tensor([1.0, 2.0], device=device).masked_fill(Tensor([True, False], device=device),
                                                       Tensor(5, device=device))
    assert f.dtype == dtypes.float32 and f.tolist() == [5.0, 2.0]


@pytest.mark.parametrize("values", [[[0, 1], [2, 0]], [[0.0, np.nan], [0.5, 0.0]], 5, 0,
                                    np.zeros((0, 3)), [[[True, False]], [[False, True]]]])
def test_nonzero(values, device):
    a = np.asarray(values)
    x = Tensor(a, device=device)
    got = x.nonzero()
    assert got.dtype == dtypes.int64
    np.testing.assert_array_equal(got.numpy(), np.argwhere(a))
    parts = x.nonzero(as_tuple=True)
    expected = np.nonzero(a.reshape(-1) if a.ndim == 0 else a)
    assert len(parts) == len(expected)
    for p, e in zip(parts, expected):
        assert p.dtype == dtypes.int64
        np.testing.assert_array_equal(p.numpy(), e)


def test_nonzero_and_masked_select_of_a_given_size(device):
    """With size=, no count is read back: rows are cut or padded with fill_value."""
    x = Tensor([1, 0, 2, 0, 3], device=device)
    assert x.nonzero(size=2).tolist() == [[0], [2]]
    assert x.nonzero(size=5, fill_value=-1).tolist() == [[0], [2], [4], [-1], [-1]]
    assert [p.tolist() for p in Tensor([[1, 0], [0, 2]], device=device).nonzero(
        size=3, as_tuple=True)] == [[0, 1, 0], [0, 1, 0]]
    assert Tensor(5, device=device).nonzero(size=4).shape == (4, 0)
    assert Tensor([], device=device).nonzero(size=2, fill_value=7).tolist() == [[7], [7]]
    t = Tensor([[0.0, 1.0], [2.0, 3.0]], device=device, requires_grad=True)
    mask = Tensor([[True, False], [False, True]], device=device)
    got = t.masked_select(mask, size=3, fill_value=-1.0)
    assert got.tolist() == [0.0, 3.0, -1.0]
    got.sum().backward()
    np.testing.assert_array_equal(t.grad.numpy(), [[1.0, 0.0], [0.0, 1.0]])
    assert t.masked_select(mask[0], size=1).tolist() == [0.0]


@pytest.mark.parametrize("values,num_classes", [([0, 2, 1], -1), ([[0, 2], [1, 4]], 5),
                                                (2, 3), (np.zeros(0, np.int64), 3),
                                                ([3, 3], -1)])
def test_one_hot(values, num_classes, device):
    a = np.asarray(values)
    got = Tensor(a, device=device).one_hot(num_classes)
    n = a.max() + 1 if num_classes == -1 else num_classes
    assert got.dtype == dtypes.int64
    np.testing.assert_array_equal(got.numpy(), np.eye(n, dtype=np.int64)[a])


def test_functions_compose_with_gradients_on_drawn_shapes(device):
    x = _x(device, (3, 4))
    index = Tensor([[0, 3], [1, 1], [2, 0]], device=device)
    gradcheck(lambda t: t.gather(1, index).masked_fill(index == 1, 0.0).sum(), [x])
    gradgradcheck(lambda t: (t.gather(-1, index) ** 2).sum(), [x])


# ---------------------------------------------------------------------- bad input
@pytest.mark.parametrize("fn,exc,pattern", [
    (lambda t: t[2], IndexError, r"index 2 is out of bounds for dimension 0 with size 2.*"
                                 r"\(2, 3, 4\)"),
    (lambda t: t[0, -4], IndexError, "index -4 is out of bounds for dimension 1"),
    (lambda t: t[0, 0, 0, 0], IndexError, "too many indices"),
    (lambda t: t[..., 0, ...], IndexError, "single ellipsis"),
    (lambda t: t[[True, False, True]], IndexError, r"mask \(3,\).*\(2, 3, 4\)"),
    (lambda t: t[Tensor([0.5])], IndexError, "integer or bool, got float32"),
    (lambda t: t[1.5], IndexError, "unsupported index"),
    (lambda t: t[::0], ValueError, "step cannot be zero"),
    (lambda t: t[0.5:], IndexError, "slice bounds must be ints"),
    (lambda t: t.gather(1, Tensor([[[0]]]).float()), RuntimeError, "integer index tensor"),
    (lambda t: t.gather(1, Tensor([0])), RuntimeError,
     r"gather: index tensor must have the same number of dimensions.*\(1,\).*\(2, 3, 4\)"),
    (lambda t: t.gather(1, Tensor([[[0]]] * 3)), RuntimeError,
     r"expected index \(3, 1, 1\) to be no larger than self \(2, 3, 4\) apart from dim"),
    (lambda t: t.scatter(0, Tensor([[[0]]]), t[:1, :1, :1].float()), RuntimeError,
     "self.dtype to be equal to src.dtype"),
    (lambda t: t.scatter(0, Tensor([[[0, 1]]]), t[:1, :1, :1]), RuntimeError,
     r"no larger than src \(1, 1, 1\)"),
    (lambda t: t.scatter(0, Tensor([[[0]]]), t[0], reduce="sum"), RuntimeError,
     "reduce argument must be either add or multiply"),
    (lambda t: t.scatter(0, Tensor([[[0]]])), TypeError, "either src"),
    (lambda t: t.scatter_add(0, Tensor([[[0]]]), "a"), TypeError, "src must be a tensor"),
    (lambda t: t.scatter_reduce(0, Tensor([[[0]]]), t, "max"), RuntimeError,
     "reduce must be one of"),
    (lambda t: t.index_select(1, Tensor([[0]])), IndexError, "supposed to be a vector"),
    (lambda t: t.take_along_dim(Tensor([0]), 1), RuntimeError, "same number of dimensions"),
    (lambda t: t.take_along_dim(Tensor([[[0]] * 2] * 3), 2), RuntimeError,
     r"\(2, 3, 4\) and \(3, 2, 1\) do not broadcast"),
    (lambda t: t.masked_fill(Tensor([1, 0, 1, 0]), 0.0), RuntimeError,
     "masked_fill: only supports boolean masks, got mask with dtype int64"),
    (lambda t: t.masked_fill(Tensor([True, False]), 0.0), RuntimeError,
     r"mask of shape \(2,\) does not broadcast with the input of shape \(2, 3, 4\)"),
    (lambda t: t.masked_fill(Tensor([True] * 4), Tensor([1.0, 2.0])), RuntimeError,
     "0-dimensional value tensor"),
    (lambda t: t.masked_fill([True] * 4, 0.0), TypeError, "mask must be a bool tensor"),
    (lambda t: t.masked_select(Tensor([1, 0, 1, 0])), RuntimeError, "boolean masks"),
    (lambda t: t.one_hot(), RuntimeError, "one_hot: is only applicable to integer index"),
    (lambda t: Tensor([0, -1]).one_hot(), RuntimeError, "class values must be non-negative"),
    (lambda t: Tensor([], dtype=dtypes.int64).one_hot(), RuntimeError, "empty tensor"),
    (lambda t: Tensor([0]).one_hot(-2), ValueError, "num_classes must be -1"),
])
def test_index_bad_input(fn, exc, pattern, device):
    with pytest.raises(exc, match=pattern):
        fn(_x(device))


def test_shape_errors_are_value_and_runtime_errors(device):
    """The project raises ValueError for shapes that do not fit, PyTorch RuntimeError: both."""
    for fn in (lambda t: t.gather(1, Tensor([0], device=device)),
               lambda t: t.masked_fill(Tensor([True, False], device=device), 0.0),
               lambda t: t.take_along_dim(Tensor([0], device=device), 1)):
        with pytest.raises(ValueError):
            fn(_x(device))
        with pytest.raises(RuntimeError):
            fn(_x(device))


@pytest.mark.parametrize("fn,pattern", [
    (lambda t: t[[0, 2]], "getitem: index 2 is out of bounds for dimension 0 with size 2"),
    (lambda t: t[:, Tensor([-4])], "getitem: index -4 is out of bounds for dimension 1"),
    (lambda t: t.gather(2, Tensor([[[4]]])), "gather: index 4 is out of bounds for dimension 2"),
    (lambda t: t.scatter_add(1, Tensor([[[3]]]), t), "scatter_add: index 3 is out of bounds"),
    (lambda t: t.index_select(0, Tensor([2])), "index_select: index 2 is out of bounds"),
])
def test_out_of_range_index_values(fn, pattern, device):
    """IndexError (also a RuntimeError, as PyTorch raises for gather) naming the op."""
    if device != "cpu":
        _host_checks_only(device)
        with pytest.raises(IndexError):  # NumPy's own check on emu
            fn(_x(device))
        return
    with pytest.raises(IndexError, match=pattern) as info:
        fn(_x(device))
    assert isinstance(info.value, RuntimeError)


def test_host_checks_of_index_values_on_the_cpu():
    """Values that only a read-back can check (no sync on a GPU) are checked on the CPU."""
    with pytest.raises(RuntimeError, match="gather: index -1 is out of bounds for dimension 2"):
        _x("cpu").gather(2, Tensor([[[-1]]], device="cpu"))
    with pytest.raises(RuntimeError, match="one_hot: class values must be non-negative"):
        Tensor([0, -1], device="cpu").one_hot(3)
    with pytest.raises(RuntimeError, match=r"smaller than num_classes \(3\), got 3"):
        Tensor([0, 3], device="cpu").one_hot(3)
