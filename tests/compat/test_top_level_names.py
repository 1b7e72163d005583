"""The package's PyTorch names added with torch.distributions / linalg / special: finfo and
iinfo, compile, the determinism flag, the default device, and the function forms (clone select
take kron cdist cross bincount isin searchsorted bucketize broadcast_* atleast_* poisson)
against NumPy formulas (gradcheck where differentiable) and, where installed, torch."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as hst

import tinygrad_nv as tg
from tinygrad_nv import Tensor
from tinygrad_nv.testing import gradcheck, gradgradcheck, strategies

NAMES = ("finfo iinfo set_default_device get_default_device use_deterministic_algorithms "
         "are_deterministic_algorithms_enabled compile clone select take bincount isin "
         "searchsorted bucketize broadcast_to broadcast_tensors broadcast_shapes atleast_1d "
         "atleast_2d atleast_3d cdist kron cross det inverse slogdet poisson sinc logit i0 "
         "linalg special distributions").split()


def test_every_name_is_there():
    assert [n for n in NAMES if not hasattr(tg, n)] == []


@pytest.mark.parametrize("dtype,bits,eps,tiny,resolution", [
    (tg.float32, 32, 2.0 ** -23, 2.0 ** -126, 1e-6),
    (tg.float64, 64, 2.0 ** -52, 2.0 ** -1022, 1e-15),
    (tg.float16, 16, 2.0 ** -10, 2.0 ** -14, 1e-3),
])
def test_finfo_values(dtype, bits, eps, tiny, resolution):
    f = tg.finfo(dtype)
    mantissa = {32: 23, 64: 52, 16: 10}[bits]
    top = {32: 127, 64: 1023, 16: 15}[bits]
    assert (f.bits, f.eps, f.tiny, f.smallest_normal, f.resolution) == \
        (bits, eps, tiny, tiny, resolution)
    assert f.max == (2 - 2.0 ** -mantissa) * 2.0 ** top == -f.min and f.dtype == dtype.name
    assert tg.finfo(dtype) == f and tg.finfo() == tg.finfo(tg.get_default_dtype())
    assert isinstance(f.min, float) and tg.finfo(float).dtype == "float64"


def test_finfo_of_bfloat16_and_attention_mask():
    pytest.importorskip("ml_dtypes")
    f = tg.finfo(tg.bfloat16)
    assert (f.bits, f.eps, f.resolution, f.dtype) == (16, 2.0 ** -7, 0.01, "bfloat16")
    scores = Tensor([[0.5, 1.0]])
    masked = scores.masked_fill(Tensor([[False, True]]), tg.finfo(scores.dtype).min)
    assert masked.softmax(-1).tolist() == [[1.0, 0.0]]


@pytest.mark.parametrize("dtype,lo,hi", [(tg.int8, -128, 127), (tg.uint8, 0, 255),
                                         (tg.int16, -2**15, 2**15 - 1),
                                         (tg.int32, -2**31, 2**31 - 1),
                                         (tg.int64, -2**63, 2**63 - 1)])
def test_iinfo_values(dtype, lo, hi):
    i = tg.iinfo(dtype)
    assert (i.min, i.max, i.bits, i.dtype) == (lo, hi, dtype.itemsize * 8, dtype.name)
    assert type(i.max) is int


@pytest.mark.parametrize("call,match", [
    (lambda: tg.finfo(tg.int64), "requires a floating point input type"),
    (lambda: tg.finfo(tg.bool), "requires a floating point input type"),
    (lambda: tg.iinfo(tg.float32), "requires an integer input type"),
    (lambda: tg.iinfo(tg.bool), "torch.bool is not supported by torch.iinfo"),
    (lambda: tg.iinfo(None), "must be a dtype"),
    (lambda: tg.finfo(object), "unknown dtype|not supported"),
])
def test_info_refuses_the_wrong_kind(call, match):
    with pytest.raises(TypeError, match=match):
        call()


def test_info_against_torch():
    torch = pytest.importorskip("torch")
    for ours, theirs in ((tg.float32, torch.float32), (tg.float64, torch.float64),
                         (tg.float16, torch.float16)):
        assert repr(tg.finfo(ours)) == repr(torch.finfo(theirs))
    for ours, theirs in ((tg.int8, torch.int8), (tg.int64, torch.int64)):
        assert repr(tg.iinfo(ours)) == repr(torch.iinfo(theirs))


def test_compile_returns_its_argument_in_every_form():
    model = tg.nn.Linear(2, 2)
    assert tg.compile(model) is model
    assert tg.compile(model, mode="max-autotune", fullgraph=True, dynamic=False,
                      backend="inductor", disable=False) is model

    @tg.compile
    def f(x):
        return x * 2

    @tg.compile(mode="reduce-overhead")
    def g(x):
        return x + 1
    assert f(Tensor([1.0])).tolist() == [2.0] and g(Tensor([1.0])).tolist() == [2.0]
    with pytest.raises(RuntimeError, match="unrecognized mode"):
        tg.compile(model, mode="fastest")
    with pytest.raises(RuntimeError, match="both can't be specified"):
        tg.compile(model, mode="default", options={})
    with pytest.raises(RuntimeError, match="must be callable"):
        tg.compile(3)


def test_deterministic_flag_round_trips():
    assert tg.are_deterministic_algorithms_enabled() is False
    try:
        tg.use_deterministic_algorithms(True, warn_only=True)
        assert tg.are_deterministic_algorithms_enabled()
        assert tg.is_deterministic_algorithms_warn_only_enabled()
    finally:
        tg.use_deterministic_algorithms(False)
    assert not tg.are_deterministic_algorithms_enabled()
    with pytest.raises(TypeError, match="must be bools"):
        tg.use_deterministic_algorithms("yes")


def test_set_default_device_moves_new_tensors():
    start = tg.get_default_device()
    try:
        tg.set_default_device("emu")
        assert str(tg.get_default_device()) == "emu" and str(tg.zeros(2).device) == "emu"
        assert str(Tensor([1.0]).device) == "emu"
        tg.set_default_device(tg.device("cpu"))
        assert str(tg.randn(2).device) == "cpu"
        tg.set_default_device(None)  # the start-up default
        assert tg.get_default_device() == start
        with pytest.raises(ValueError, match="unknown device"):
            tg.set_default_device("tpu")
    finally:
        tg.set_default_device(start)


def _param(rng, shape, device):
    return Tensor(rng.uniform(-2, 2, shape), device=device, requires_grad=True)


@given(data=hst.data())
def test_differentiable_forms_against_numpy(data, device):
    shape = data.draw(strategies.shapes(min_dims=1, max_dims=3, max_side=3))
    rng = np.random.default_rng(data.draw(hst.integers(0, 99)))
    x = _param(rng, shape, device)
    a = x.numpy()
    dim = data.draw(hst.integers(-len(shape), len(shape) - 1))
    index = data.draw(hst.integers(-shape[dim], shape[dim] - 1))
    got = tg.select(x, dim, index)
    np.testing.assert_array_equal(got.numpy(), np.take(a, index, axis=dim))
    gradcheck(lambda t: tg.select(t, dim, index), [x])
    flat = rng.integers(-a.size, a.size, (2, 3))
    idx = Tensor(flat, device=device)
    np.testing.assert_array_equal(tg.take(x, idx).numpy(), a.reshape(-1)[flat])
    gradcheck(lambda t: tg.take(t, idx), [x])
    y = _param(rng, data.draw(strategies.shapes(min_dims=1, max_dims=2, max_side=3)), device)
    np.testing.assert_allclose(tg.kron(x, y).numpy(), np.kron(a, y.numpy()), rtol=1e-12)
    gradcheck(tg.kron, [x, y])
    np.testing.assert_array_equal(tg.clone(x).numpy(), a)
    wide = (2,) + tuple(shape)
    np.testing.assert_array_equal(tg.broadcast_to(x, wide).numpy(), np.broadcast_to(a, wide))
    gradcheck(lambda t: tg.broadcast_to(t, wide), [x])


def test_cdist_and_cross_against_formulas(device):
    rng = np.random.default_rng(0)
    x1, x2 = _param(rng, (2, 4, 3), device), _param(rng, (2, 5, 3), device)
    a, b = x1.numpy(), x2.numpy()
    for p in (1.0, 2.0, 3.0, math.inf):
        expected = np.linalg.norm(a[:, :, None] - b[:, None], ord=p, axis=-1)
        np.testing.assert_allclose(tg.cdist(x1, x2, p).numpy(), expected, rtol=1e-12)
        gradcheck(lambda s, t, p=p: tg.cdist(s, t, p), [x1, x2])
    gradgradcheck(tg.cdist, [x1, x2])
    u, v = _param(rng, (4, 3), device), _param(rng, (4, 3), device)
    np.testing.assert_allclose(tg.cross(u, v, dim=1).numpy(), np.cross(u.numpy(), v.numpy()),
                               atol=1e-12)
    np.testing.assert_allclose(tg.cross(u.T, v.T).numpy(), np.cross(u.numpy(), v.numpy()).T,
                               atol=1e-12)  # dim=None: the first axis of size 3
    gradcheck(lambda s, t: tg.cross(s, t, dim=-1), [u, v])


def test_shape_helpers(device):
    s, v, m = Tensor(1.0, device=device), Tensor([1.0, 2.0], device=device), Tensor.zeros(2, 3)
    assert tg.atleast_1d(s).shape == (1,) and tg.atleast_2d(v).shape == (1, 2)
    assert [t.shape for t in tg.atleast_3d(s, v, m)] == [(1, 1, 1), (1, 2, 1), (2, 3, 1)]
    assert [t.shape for t in tg.atleast_2d([s, m])] == [(1, 1), (2, 3)]
    a, b = tg.broadcast_tensors(Tensor([[1.0], [2.0]]), Tensor([1.0, 2.0, 3.0]))
    assert a.shape == b.shape == (2, 3) and a.tolist()[1] == [2.0, 2.0, 2.0]
    assert tg.broadcast_shapes((2, 1), (3,), 1) == (2, 3)
    with pytest.raises(ValueError, match="do not broadcast"):
        tg.broadcast_shapes((2,), (3,))


def test_counting_and_searching(device):
    x = Tensor([0, 1, 1, 3], device=device)
    assert tg.bincount(x).tolist() == [1, 2, 0, 1] and tg.bincount(x).dtype == tg.int64
    assert tg.bincount(x, minlength=6).tolist() == [1, 2, 0, 1, 0, 0]
    w = tg.bincount(x, Tensor([0.5, 1.0, 2.0, 4.0], device=device))
    assert w.tolist() == [0.5, 3.0, 0.0, 4.0] and w.dtype == tg.float32
    assert tg.bincount(x, Tensor([1, 2, 3, 4], device=device)).dtype == tg.float64
    assert tg.bincount(Tensor(np.zeros(0, np.int64), device=device)).tolist() == []
    found = tg.isin(Tensor([1, 2, 3], device=device), Tensor([2, 5], device=device))
    assert found.tolist() == [False, True, False] and found.dtype == tg.bool
    assert tg.isin(Tensor([1, 2], device=device), 2, invert=True).tolist() == [True, False]
    assert tg.isin(2, Tensor([1, 2], device=device)).item() is True
    seq = Tensor([1.0, 2.0, 2.0, 5.0], device=device)
    vals = Tensor([[0.0, 2.0], [3.0, 9.0]], device=device)
    assert tg.searchsorted(seq, vals).tolist() == [[0, 1], [3, 4]]
    assert tg.searchsorted(seq, vals, right=True).tolist() == [[0, 3], [3, 4]]
    assert tg.searchsorted(seq, vals, side="right", out_int32=True).dtype == tg.int32
    assert tg.searchsorted(seq, 2.0).item() == 1
    rows = Tensor([[1.0, 2.0, 3.0], [2.0, 3.0, 4.0]], device=device)
    assert tg.searchsorted(rows, Tensor([[2.5], [2.5]], device=device)).tolist() == [[2], [1]]
    unsorted = Tensor([5.0, 1.0, 2.0], device=device)
    assert tg.searchsorted(unsorted, Tensor([1.5], device=device),
                           sorter=Tensor([1, 2, 0], device=device)).tolist() == [1]
    assert tg.bucketize(Tensor([0.5, 2.0, 7.0], device=device),
                        Tensor([1.0, 2.0, 5.0], device=device)).tolist() == [0, 1, 3]
    assert tg.bucketize(Tensor([2.0], device=device), Tensor([1.0, 2.0, 5.0], device=device),
                        right=True).tolist() == [2]


def test_poisson_draws(device):
    rates = Tensor([0.0, 1.0, 50.0], dtype=tg.float64, device=device).expand(4000, 3)
    tg.manual_seed(3)
    draws = tg.poisson(rates)
    assert draws.dtype == tg.float64 and draws.shape == (4000, 3)
    mean = draws.numpy().mean(0)
    assert mean[0] == 0 and abs(mean[1] - 1) < 0.1 and abs(mean[2] - 50) < 1.0
    tg.manual_seed(3)
    np.testing.assert_array_equal(tg.poisson(rates).numpy(), draws.numpy())


@pytest.mark.parametrize("call,error,match", [
    (lambda: tg.select(Tensor([1.0, 2.0]), 0, 2), IndexError, r"index 2 out of range.*\[2\]"),
    (lambda: tg.select(Tensor([1.0]), 1, 0), IndexError, "dim 1 out of range"),
    (lambda: tg.take(Tensor([1.0]), Tensor([3])), IndexError, "take: index out of range"),
    (lambda: tg.take(Tensor([1.0]), Tensor([0.0])), TypeError, "integer tensor"),
    (lambda: tg.bincount(Tensor([-1])), RuntimeError, "non-negative integral"),
    (lambda: tg.bincount(Tensor([1.0])), RuntimeError, "non-negative integral"),
    (lambda: tg.bincount(Tensor([1]), Tensor([1.0, 2.0])), RuntimeError, "weights of shape"),
    (lambda: tg.cdist(Tensor([1.0]), Tensor([[1.0]])), ValueError, "cdist: expected x1"),
    (lambda: tg.cdist(Tensor([[1.0]]), Tensor([[1.0]]), -1), ValueError, "non-negative p"),
    (lambda: tg.searchsorted(Tensor([[1.0]]), Tensor([1.0, 2.0])), RuntimeError,
     "must be 1-D or have the leading axes"),
    (lambda: tg.searchsorted(Tensor([1.0]), 1.0, side="middle"), RuntimeError, "side must be"),
    (lambda: tg.bucketize(Tensor([1.0]), Tensor([[1.0]])), RuntimeError, "must be 1-D"),
    (lambda: tg.poisson(Tensor([-1.0])), RuntimeError, "expected rate to be non-negative"),
    (lambda: tg.cross(Tensor([1.0, 2.0]), Tensor([1.0, 2.0]), dim=0), ValueError,
     "3 elements"),
    (lambda: tg.clone([1.0]), TypeError, "clone: expected a Tensor"),
])
def test_bad_inputs(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_function_forms_against_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(3, 4, 3)), rng.normal(size=(3, 5, 3))
    np.testing.assert_allclose(tg.cdist(Tensor(a), Tensor(b), 1.5).numpy(),
                               torch.cdist(torch.tensor(a), torch.tensor(b), 1.5).numpy(),
                               rtol=1e-10)
    np.testing.assert_allclose(tg.cross(Tensor(a), Tensor(a[::-1].copy())).numpy(),
                               torch.linalg.cross(torch.tensor(a),
                                                  torch.tensor(a[::-1].copy()), dim=0).numpy())
    np.testing.assert_allclose(tg.kron(Tensor(a[0]), Tensor(b[0])).numpy(),
                               torch.kron(torch.tensor(a[0]), torch.tensor(b[0])).numpy())
    seq, vals = np.sort(rng.normal(size=(3, 6))), rng.normal(size=(3, 4))
    for right in (False, True):
        assert tg.searchsorted(Tensor(seq), Tensor(vals), right=right).tolist() == \
            torch.searchsorted(torch.tensor(seq), torch.tensor(vals), right=right).tolist()
        assert tg.bucketize(Tensor(vals), Tensor(seq[0]), right=right).tolist() == \
            torch.bucketize(torch.tensor(vals), torch.tensor(seq[0]), right=right).tolist()
    ints = rng.integers(0, 5, 20)
    assert tg.bincount(Tensor(ints), minlength=7).tolist() == \
        torch.bincount(torch.tensor(ints), minlength=7).tolist()
    assert tg.isin(Tensor(ints), Tensor([1, 3])).tolist() == \
        torch.isin(torch.tensor(ints), torch.tensor([1, 3])).tolist()
    assert [t.shape for t in tg.atleast_3d(Tensor(1.0), Tensor([1.0]), Tensor([[1.0]]))] == \
        [tuple(t.shape) for t in torch.atleast_3d(torch.tensor(1.0), torch.tensor([1.0]),
                                                  torch.tensor([[1.0]]))]
