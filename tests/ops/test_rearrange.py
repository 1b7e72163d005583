"""Ops that copy and rearrange elements: pad (4 modes, negative pads), flip, roll, repeat, tile,
repeat_interleave, tril/triu, diagonal/diag, unfold. Values against NumPy, gradients and second
derivatives on drawn shapes and axes, empty and 0-d tensors, bad input."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as hst

from tests.helpers import check_op
from tinygrad_nv import Tensor
from tinygrad_nv.testing import strategies as st


def _x(device, shape=(2, 3, 4)):
    return Tensor(np.random.default_rng(0).standard_normal(shape), device=device)


def _small(data, device, min_dims=1, max_dims=3):
    return data.draw(st.tensors(shape=st.shapes(min_dims=min_dims, max_dims=max_dims,
                                                max_side=4), device=device))


def _np_pad(a, pairs, mode):
    """NumPy's pad with PyTorch's negative pads: circular wraps the cropped input, reflect and
    replicate read the input itself (then crop), constant crops."""
    crop = tuple(slice(max(-b, 0), n - max(-e, 0)) for (b, e), n in zip(pairs, a.shape))
    grow = [(max(b, 0), max(e, 0)) for b, e in pairs]
    if mode in ("constant", "circular"):
        return np.pad(a[crop], grow, mode={"constant": "constant", "circular": "wrap"}[mode])
    padded = np.pad(a, grow, mode={"reflect": "reflect", "replicate": "edge"}[mode])
    return padded[tuple(slice(max(-b, 0), padded.shape[i] - max(-e, 0))
                        for i, (b, e) in enumerate(pairs))]


def _valid_pad(n, before, after, mode):
    kept = n - max(-before, 0) - max(-after, 0)
    return kept >= 0 and (mode != "circular" or max(before, after) <= kept)


def _unfold(a, axis, size, step):
    windows = np.lib.stride_tricks.sliding_window_view(a, size, axis=axis)
    return windows[(slice(None),) * (axis % a.ndim) + (slice(None, None, step),)]


@pytest.mark.parametrize("fn,ref", [
    (lambda t: t.flip(0), lambda a: a[::-1]),
    (lambda t: t.flip(0, -1), lambda a: a[::-1, :, ::-1]),
    (lambda t: t.flip((1,)), lambda a: a[:, ::-1]),
    (lambda t: t.flip(()), lambda a: a),
    (lambda t: t.flip(dims=[0, 2]), lambda a: a[::-1, :, ::-1]),
    (lambda t: t.flip(axis=-2), lambda a: a[:, ::-1]),
    (lambda t: t.roll(1), lambda a: np.roll(a, 1)),
    (lambda t: t.roll(-7), lambda a: np.roll(a, -7)),
    (lambda t: t.roll((1, -2), (0, 2)), lambda a: np.roll(a, (1, -2), (0, 2))),
    (lambda t: t.roll(5, -1), lambda a: np.roll(a, 5, -1)),
    (lambda t: t.roll((1, 1), (1, 1)), lambda a: np.roll(a, 2, 1)),
    (lambda t: t.repeat(2, 1, 1), lambda a: np.tile(a, (2, 1, 1))),
    (lambda t: t.repeat((1, 2, 1, 3)), lambda a: np.tile(a, (1, 2, 1, 3))),
    (lambda t: t.repeat(1, 1, 1), lambda a: a),
    (lambda t: t.repeat(2, 0, 1, 1), lambda a: np.tile(a, (2, 0, 1, 1))),
    (lambda t: t.tile(2), lambda a: np.tile(a, 2)),
    (lambda t: t.tile((2, 1)), lambda a: np.tile(a, (2, 1))),
    (lambda t: t.repeat_interleave(2), lambda a: np.repeat(a, 2)),
    (lambda t: t.repeat_interleave(2, dim=-2), lambda a: np.repeat(a, 2, axis=-2)),
    (lambda t: t.repeat_interleave(Tensor([1, 0, 3]), dim=1),
     lambda a: np.repeat(a, [1, 0, 3], axis=1)),
    (lambda t: t.repeat_interleave(Tensor([2]), dim=0), lambda a: np.repeat(a, 2, axis=0)),
    (lambda t: t.repeat_interleave(Tensor([1, 0, 3]), dim=1, output_size=4),
     lambda a: np.repeat(a, [1, 0, 3], axis=1)),
    (lambda t: t.repeat_interleave(0, dim=2), lambda a: np.repeat(a, 0, axis=2)),
    (lambda t: t.tril(), np.tril), (lambda t: t.triu(), np.triu),
    (lambda t: t.tril(-1), lambda a: np.tril(a, -1)),
    (lambda t: t.triu(2), lambda a: np.triu(a, 2)),
    (lambda t: t.tril(9), lambda a: a), (lambda t: t.triu(-9), lambda a: a),
    (lambda t: t.diagonal(), np.diagonal),
    (lambda t: t.diagonal(1, -1, 0), lambda a: np.diagonal(a, 1, -1, 0)),
    (lambda t: t.diagonal(-1, 2, 1), lambda a: np.diagonal(a, -1, 2, 1)),
    (lambda t: t.diagonal(7), lambda a: np.diagonal(a, 7)),
    (lambda t: t[0].diag(), lambda a: np.diag(a[0])),
    (lambda t: t[0].diag(2), lambda a: np.diag(a[0], 2)),
    (lambda t: t[0].diag(-2), lambda a: np.diag(a[0], -2)),
    (lambda t: t[0, 0].diag(), lambda a: np.diag(a[0, 0])),
    (lambda t: t[0, 0].diag(-1), lambda a: np.diag(a[0, 0], -1)),
    (lambda t: t.unfold(2, 2, 1), lambda a: _unfold(a, 2, 2, 1)),
    (lambda t: t.unfold(-2, 2, 2), lambda a: _unfold(a, -2, 2, 2)),
    (lambda t: t.unfold(0, 0, 1), lambda a: _unfold(a, 0, 0, 1)),
    (lambda t: t.unfold(2, 4, 3), lambda a: _unfold(a, 2, 4, 3)),
    (lambda t: t.pad(((1, 0), None, (2, 1))), lambda a: np.pad(a, ((1, 0), (0, 0), (2, 1)))),
    (lambda t: t.pad((1, 2)), lambda a: np.pad(a, ((0, 0), (0, 0), (1, 2)))),
    (lambda t: t.pad((1, 2, 0, 3), value=-1.5),
     lambda a: np.pad(a, ((0, 0), (0, 3), (1, 2)), constant_values=-1.5)),
    (lambda t: t.pad((-1, 2, 1, -2)), lambda a: np.pad(a[:, :1, 1:], ((0, 0), (1, 0), (0, 2)))),
], ids=lambda f: "")
def test_rearrange(fn, ref, device):
    check_op(fn, ref, _x(device))


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("padding", [(2, 1), (1, 1, 1, 2), (-1, 2), (2, -1), (0, 3), (-1, -1),
                                     (3, 3), (1, 2, -1, 0, 0, 1), ((1, -1), (0, 1), (-1, 3))])
def test_pad_modes(mode, padding, device):
    x = _x(device)
    flat = not isinstance(padding[0], tuple)
    pairs = padding if not flat else tuple(
        [(0, 0)] * (3 - len(padding) // 2) + [padding[i:i + 2] for i in
                                             range(0, len(padding), 2)][::-1])
    check_op(lambda t: t.pad(padding, mode=mode), lambda a: _np_pad(a, pairs, mode), x)


@given(data=hst.data())
def test_flip_roll_drawn(data, device):
    x = _small(data, device)
    dims = data.draw(st.axes(x.ndim, allow_none=False))
    dims = dims if isinstance(dims, tuple) else (dims,)
    check_op(lambda t: t.flip(dims), lambda a: np.flip(a, dims), x)
    shifts = tuple(data.draw(hst.integers(-5, 5)) for _ in dims)
    check_op(lambda t: t.roll(shifts, dims), lambda a: np.roll(a, shifts, dims), x)
    check_op(lambda t: t.roll(shifts[0]), lambda a: np.roll(a, shifts[0]), x)


@given(data=hst.data())
def test_repeat_tile_drawn(data, device):
    x = _small(data, device, max_dims=2)
    sizes = tuple(data.draw(hst.lists(hst.integers(0, 3), min_size=x.ndim,
                                      max_size=x.ndim + 1)))
    check_op(lambda t: t.repeat(*sizes), lambda a: np.tile(a, sizes), x)
    check_op(lambda t: t.tile(sizes[1:]), lambda a: np.tile(a, sizes[1:]), x)
    axis = data.draw(st.axes(x.ndim, allow_tuple=False))
    repeats = data.draw(hst.integers(0, 3))
    check_op(lambda t: t.repeat_interleave(repeats, dim=axis),
             lambda a: np.repeat(a, repeats, axis=axis), x)
    n = x.size(axis) if axis is not None else x.numel()
    counts = data.draw(hst.lists(hst.integers(0, 3), min_size=n, max_size=n))
    check_op(lambda t: t.repeat_interleave(Tensor(counts, device=device), dim=axis),
             lambda a: np.repeat(a, counts, axis=axis), x)


@given(data=hst.data())
def test_triangles_and_diagonals_drawn(data, device):
    x = _small(data, device, min_dims=2)
    k = data.draw(hst.integers(-4, 4))
    check_op(lambda t: t.tril(k), lambda a: np.tril(a, k), x)
    check_op(lambda t: t.triu(k), lambda a: np.triu(a, k), x)
    dim1, dim2 = data.draw(hst.lists(hst.integers(-x.ndim, x.ndim - 1), min_size=2,
                                     max_size=2, unique_by=lambda a: a % x.ndim))
    check_op(lambda t: t.diagonal(k, dim1, dim2), lambda a: np.diagonal(a, k, dim1, dim2), x)
    v = x.reshape(-1)[:4]
    check_op(lambda t: t.diag(k), lambda a: np.diag(a, k), v)


@given(data=hst.data())
def test_unfold_and_pad_drawn(data, device):
    x = _small(data, device)
    axis = data.draw(st.axes(x.ndim, allow_none=False, allow_tuple=False))
    size = data.draw(hst.integers(0, x.size(axis)))
    step = data.draw(hst.integers(1, 3))
    check_op(lambda t: t.unfold(axis, size, step), lambda a: _unfold(a, axis, size, step), x)
    mode = data.draw(hst.sampled_from(["constant", "reflect", "replicate", "circular"]))
    pairs = tuple((data.draw(hst.integers(-n + 1, n - 1)), data.draw(hst.integers(-n + 1, n - 1)))
                  if n > 1 else (0, 0) for n in x.shape)
    pairs = tuple((b, e) if _valid_pad(n, b, e, mode) else (0, 0) for (b, e), n in
                  zip(pairs, x.shape))
    check_op(lambda t: t.pad(pairs, mode=mode), lambda a: _np_pad(a, pairs, mode), x)


def test_pad_gradient_adds_reflected_copies(device):
    x = Tensor([1.0, 2.0, 3.0], device=device, requires_grad=True)
    x.pad((2, 2), mode="reflect").sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 3.0, 2.0])  # [3 2 | 1 2 3 | 2 1]


def test_results_are_copies(device):
    x = Tensor([[1.0, 2.0], [3.0, 4.0]], device=device)
    for y in (x.flip(0), x.repeat(1, 1), x.tile(()), x.diagonal(), x.tril(), x.roll(1)):
        y._data[...] = 0
    np.testing.assert_array_equal(x.numpy(), [[1.0, 2.0], [3.0, 4.0]])


def test_empty_and_0d(device):
    e = Tensor.zeros(0, 3, device=device)
    assert e.flip(0).shape == (0, 3) and e.roll(2, 0).shape == (0, 3)
    assert e.repeat(2, 2).shape == (0, 6) and e.tril().shape == (0, 3)
    assert e.repeat_interleave(Tensor([1, 2, 0], device=device), dim=1).shape == (0, 3)
    assert e.pad((1, 1)).shape == (0, 5) and e.pad((1, 1), mode="circular").shape == (0, 5)
    assert e.diagonal().shape == (0,) and e.unfold(1, 2, 1).shape == (0, 2, 2)
    s = Tensor(2.0, device=device)
    assert s.flip(0).item() == 2.0 and s.roll(3).item() == 2.0 and s.tile(()).item() == 2.0
    assert s.repeat(3).tolist() == [2.0, 2.0, 2.0] and s.repeat_interleave(2).tolist() == [2, 2]
    assert s.unfold(0, 1, 1).tolist() == [2.0] and s.unfold(0, 0, 1).shape == (0,)
    assert Tensor([3, 0, 2], device=device).repeat_interleave().tolist() == [0, 0, 0, 2, 2]


def test_integer_and_bool_dtypes_kept(device):
    i = Tensor([[1, 2], [3, 4]], device=device)
    assert i.pad((1, 1), value=2.7).tolist() == [[2, 1, 2, 2], [2, 3, 4, 2]]
    assert i.tril().dtype == i.dtype and i.flip(1).tolist() == [[2, 1], [4, 3]]
    assert Tensor([[True, True]] * 2, device=device).triu().tolist() == [[True, True],
                                                                      [False, True]]


@pytest.mark.parametrize("fn,exc,pattern", [
    (lambda t: t.flip(0, 0), RuntimeError, "flip: a dim appears multiple times"),
    (lambda t: t.flip(3), IndexError, r"flip: axis 3 .*\(2, 3, 4\)"),
    (lambda t: t.roll((1, 2), 0), RuntimeError, "roll: shifts and dimensions must align"),
    (lambda t: t.roll(1.5), TypeError, "roll: shifts must be ints"),
    (lambda t: t[0, 0, 0].roll(1, 0), IndexError, "roll: dims 0 given for a 0-d tensor"),
    (lambda t: t.repeat(2, 2), RuntimeError, r"repeat: got 2 repetitions .*\(2, 3, 4\)"),
    (lambda t: t.repeat(-1, 1, 1), ValueError, "repeat: negative dimension"),
    (lambda t: t[0, 0, 0].repeat(), TypeError, "repeat: missing the number of repetitions"),
    (lambda t: t.repeat_interleave(-1), RuntimeError, "repeats must be non-negative"),
    (lambda t: t.repeat_interleave(Tensor([1, -1, 0]), dim=1), RuntimeError, "non-negative"),
    (lambda t: t.repeat_interleave(Tensor([1, 2]), dim=1), RuntimeError,
     r"same size as the input along dim 1, got 2 repeats .*\(2, 3, 4\)"),
    (lambda t: t.repeat_interleave(Tensor([1.0, 2.0, 0.0]), dim=1), RuntimeError,
     "0-d or 1-d integer tensor"),
    (lambda t: t[0, 0].tril(), RuntimeError, r"tril: input tensor must have at least 2 "
                                             r"dimensions, got shape \(4,\)"),
    (lambda t: t.triu(0.5), TypeError, "triu: diagonal must be an int"),
    (lambda t: t.diagonal(0, 1, -2), RuntimeError, r"diagonal: .*dim1=1, dim2=-2.*\(2, 3, 4\)"),
    (lambda t: t.diag(), RuntimeError, r"diag: supports 1-D or 2-D tensors, got shape "
                                       r"\(2, 3, 4\)"),
    (lambda t: t.unfold(2, 5, 1), RuntimeError, "unfold: maximum size for tensor at dimension "
                                                "2 is 4 but size is 5"),
    (lambda t: t.unfold(2, 2, 0), RuntimeError, "unfold: step is 0 but must be > 0"),
    (lambda t: t.pad((1, 1, 1)), ValueError, "pad: a flat padding needs an even length"),
    (lambda t: t.pad((1.5, 1)), TypeError, "pad: every padding must be a pair of ints"),
    (lambda t: t.pad((0, -5)), RuntimeError,
     r"pad: the input size 4, plus padding 0 and -5.*\(2, 3, 4\)"),
    (lambda t: t.pad((3, -5)), RuntimeError, "pad: the input size 4, plus padding 3 and -5"),
    (lambda t: t.pad((4, 0), mode="reflect"), RuntimeError,
     r"pad: reflect padding must be less than the input dimension.*\(4, 0\)"),
    (lambda t: t.pad((5, 0), mode="circular"), RuntimeError, "wraps around more than once"),
    (lambda t: t.pad((1, 1), mode="reflect", value=1.0), RuntimeError,
     "doesn't take in value argument"),
    (lambda t: t.pad((1, 1), mode="edge"), ValueError, "pad: mode must be one of"),
    (lambda t: t[:, :0].pad((0, 0, 1, 0), mode="replicate"), RuntimeError,
     "replicate padding of dimension 1 needs a non-empty input"),
])
def test_rearrange_bad_input(fn, exc, pattern, device):
    with pytest.raises(exc, match=pattern):
        fn(_x(device))


def test_bad_shapes_raise_value_and_runtime_errors(device):
    """PyTorch raises RuntimeError (NotImplementedError for a padding mode), the project's
    convention is ValueError: these errors are both."""
    for fn, kind in ((lambda t: t.repeat(2, 2), RuntimeError),
                     (lambda t: t[0, 0].triu(), RuntimeError),
                     (lambda t: t.pad((1, 1), mode="wrap"), NotImplementedError)):
        with pytest.raises(ValueError):
            fn(_x(device))
        with pytest.raises(kind):
            fn(_x(device))


def test_repeat_interleave_output_size_checked_on_the_cpu():
    """With output_size the counts stay on the device; only the CPU compares their sum."""
    x = _x("cpu")
    with pytest.raises(RuntimeError, match=r"output_size 4 does not match the sum of the "
                                           r"repeats \(3\)"):
        x.repeat_interleave(Tensor([1, 2, 0], device="cpu"), dim=1, output_size=4)
