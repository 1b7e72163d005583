"""Cases a peer framework's op-test suite found wrong: PyTorch's results at integer limits,
for bool and small integer dtypes, and the errors PyTorch raises."""

import numpy as np
import pytest

import tinygrad_nv
import tinygrad_nv.nn.functional as F
from tinygrad_nv import Tensor
from tinygrad_nv.testing import gradcheck, gradgradcheck


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int16", "int32", "int64"])
def test_minimum_is_exact_at_integer_limits(dtype, device):
    info = np.iinfo(dtype)
    a = np.array([info.min, -1 if info.min else 0, 0, 1, info.max], dtype=dtype)
    for other in (info.min, info.max, 0):
        b = np.array([other], dtype=dtype)
        got = Tensor(a, device=device).minimum(Tensor(b, device=device))
        assert got.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(got.numpy(), np.minimum(a, b))
        np.testing.assert_array_equal(Tensor(b, device=device).minimum(
            Tensor(a, device=device)).numpy(), np.minimum(b, a))


def test_minimum_of_bools_is_logical_and(device):
    a = np.array([True, True, False, False])
    b = np.array([True, False, True, False])
    got = Tensor(a, device=device).minimum(Tensor(b, device=device))
    assert got.dtype == np.bool_
    np.testing.assert_array_equal(got.numpy(), a & b)


def test_minimum_gradient_goes_to_the_smaller_and_splits_ties(device):
    a = Tensor([1.0, 2.0, 3.0], requires_grad=True, device=device)
    b = Tensor([2.0, 2.0, 1.0], requires_grad=True, device=device)
    a.minimum(b).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), [1.0, 0.5, 0.0])
    np.testing.assert_allclose(b.grad.numpy(), [0.0, 0.5, 1.0])
    x = Tensor(np.array([[0.3, -1.2], [2.1, 0.7]]), requires_grad=True, device=device)
    y = Tensor(np.array([0.5, -0.4]), requires_grad=True, device=device)
    gradcheck(lambda p, q: p.minimum(q), (x, y))
    gradgradcheck(lambda p, q: p.minimum(q), (x, y))


def _attention_reference(q, k, v, causal):
    scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    if causal:
        scores = np.where(np.tril(np.ones(scores.shape[-2:], dtype=bool)), scores, -np.inf)
    weights = np.exp(scores - scores.max(-1, keepdims=True))
    return weights / weights.sum(-1, keepdims=True) @ v


@pytest.mark.parametrize("is_causal", [False, True])
def test_attention_grouped_query_heads(is_causal, device):
    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal(s) for s in ((2, 6, 3, 4), (2, 2, 5, 4), (2, 2, 5, 3)))
    group = np.repeat  # each key/value head serves 3 consecutive query heads
    expected = _attention_reference(q, group(k, 3, axis=-3), group(v, 3, axis=-3), is_causal)
    tensors = [Tensor(a, requires_grad=True, device=device) for a in (q, k, v)]

    def attend(*qkv):
        return F.scaled_dot_product_attention(*qkv, is_causal=is_causal, enable_gqa=True)
    np.testing.assert_allclose(attend(*tensors).numpy(), expected, atol=1e-12)
    gradcheck(attend, tensors)


def test_attention_grouped_query_heads_must_divide(device):
    q, k = Tensor.ones(1, 5, 3, 4, device=device), Tensor.ones(1, 2, 3, 4, device=device)
    with pytest.raises(ValueError, match=r"scaled_dot_product_attention.*\(5\).*\(2, 2\)"):
        F.scaled_dot_product_attention(q, k, k, enable_gqa=True)
    with pytest.raises(ValueError, match="heads axis"):
        F.scaled_dot_product_attention(Tensor.ones(3, 4), Tensor.ones(3, 4), Tensor.ones(3, 4),
                                       enable_gqa=True)


@pytest.mark.parametrize("make", [
    lambda **kw: Tensor.arange(3, **kw),
    lambda **kw: Tensor.linspace(0, 1, 3, **kw),
    lambda **kw: Tensor.logspace(0, 1, 3, **kw),
], ids=["arange", "linspace", "logspace"])
def test_ranges_refuse_bool_dtype(make, device):
    with pytest.raises(TypeError, match=r"(arange|linspace|logspace): dtype bool"):
        make(dtype="bool", device=device)
    assert make(dtype="int8", device=device).dtype == np.int8


def _linear_along(a, axis, m):
    """1-D linear resize of one axis to m (PyTorch's half-pixel source coordinates)."""
    n = a.shape[axis]
    src = np.maximum((np.arange(m) + 0.5) * n / m - 0.5, 0.0)
    return np.apply_along_axis(lambda v: np.interp(src, np.arange(n), v), axis, a)


def test_interpolate_trilinear(device):
    rng = np.random.default_rng(1)
    x = Tensor(rng.standard_normal((1, 2, 3, 2, 4)), requires_grad=True, device=device)
    size = (5, 3, 2)
    expected = x.numpy()
    for axis, m in zip((2, 3, 4), size):
        expected = _linear_along(expected, axis, m)

    def resize(t):
        return F.interpolate(t, size=size, mode="trilinear")
    np.testing.assert_allclose(resize(x).numpy(), expected, atol=1e-12)
    gradcheck(resize, (x,))


@pytest.mark.parametrize("shape,size", [((1, 2, 7), (4,)), ((1, 1, 5, 3), (3, 7)),
                                        ((1, 1, 3, 4, 5), (2, 6, 3))])
def test_interpolate_nearest_exact_and_nearest_in_3d(shape, size, device):
    a = np.random.default_rng(2).standard_normal(shape)
    for mode, offset in (("nearest", 0.0), ("nearest-exact", 0.5)):
        expected = a
        for axis, (n, m) in enumerate(zip(shape[2:], size), start=2):
            rows = np.minimum(np.floor((np.arange(m) + offset) * n / m), n - 1).astype(int)
            expected = np.take(expected, rows, axis=axis)
        x = Tensor(a, requires_grad=True, device=device)
        np.testing.assert_array_equal(F.interpolate(x, size=size, mode=mode).numpy(), expected)
        gradcheck(lambda t, mode=mode: F.interpolate(t, size=size, mode=mode), (x,))


def test_interpolate_mode_must_fit_the_input(device):
    with pytest.raises(ValueError, match="interpolate: mode 'trilinear' takes a 5-D input"):
        F.interpolate(Tensor.ones(1, 1, 4, 4, device=device), size=2, mode="trilinear")


@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, 0.5, 0.0, -1.0, float("inf")])
@pytest.mark.parametrize("dim", [0, -1])
def test_normalize_any_order(p, dim, device):
    a = np.array([[0.5, -1.5, 2.0], [0.0, 0.0, 0.0], [-0.7, 0.2, 1.1]])
    if p == 0:
        norms = np.count_nonzero(a, axis=dim, keepdims=True).astype(float)
    elif p == float("inf"):
        norms = np.abs(a).max(axis=dim, keepdims=True)
    else:
        with np.errstate(divide="ignore"):
            norms = (np.abs(a) ** p).sum(axis=dim, keepdims=True) ** (1 / p)
    expected = a / np.maximum(norms, 1e-12)
    x = Tensor(a, requires_grad=True, device=device)
    got = F.normalize(x, p=p, dim=dim)
    np.testing.assert_allclose(got.numpy(), expected, atol=1e-12)
    got.sum().backward()
    assert np.isfinite(x.grad.numpy()).all()
    if p in (2.0, 1.0, 3.0) and dim == -1:  # smooth away from the zero row
        kept = Tensor(a[[0, 2]], requires_grad=True, device=device)
        gradcheck(lambda t: F.normalize(t, p=p, dim=dim), (kept,))


@pytest.mark.parametrize("call", [
    lambda d: F.conv2d(Tensor.ones(1, 1, 6, 7, device=d), Tensor.ones(6, 1, 3, 3, device=d),
                       dilation=3),
    lambda d: F.cross_entropy(Tensor.ones(4, 3, device=d), Tensor.ones(4, 1, device=d)),
    lambda d: F.cross_entropy(Tensor.ones(3, 5, 4, device=d),
                              Tensor([[0] * 5] * 3, device=d)),
], ids=["conv_kernel_over_input", "cross_entropy_probs_shape", "cross_entropy_class_shape"])
def test_shape_errors_are_also_pytorchs_runtime_error(call, device):
    with pytest.raises(ValueError, match=r"(conv2d|cross_entropy): .*(input|shape)"):
        call(device)
    with pytest.raises(RuntimeError):
        call(device)


def test_cat_and_stack_take_pytorchs_positional_dim(device):
    a = np.arange(6.0).reshape(2, 3)
    b = -np.arange(6.0).reshape(2, 3)
    ta, tb = Tensor(a, device=device), Tensor(b, device=device)
    np.testing.assert_array_equal(tinygrad_nv.cat([ta, tb], 1).numpy(), np.concatenate([a, b], 1))
    np.testing.assert_array_equal(Tensor.cat((ta, tb), -1).numpy(), np.concatenate([a, b], -1))
    np.testing.assert_array_equal(tinygrad_nv.stack([ta, tb], 2).numpy(), np.stack([a, b], 2))
    np.testing.assert_array_equal(Tensor.stack((ta, tb), 0).numpy(), np.stack([a, b], 0))
    with pytest.raises(IndexError, match="cat"):
        tinygrad_nv.cat([ta, tb], 2)


@pytest.mark.parametrize("name,ref", [("sigmoid", lambda a: 1 / (1 + np.exp(-a))),
                                      ("tanh", np.tanh)])
@pytest.mark.parametrize("dtype", ["int32", "int64", "uint8", "bool"])
def test_sigmoid_tanh_promote_integers_to_float32(name, ref, dtype, device):
    a = np.array([0, 1, 3, 2], dtype=dtype)
    got = getattr(Tensor(a, device=device), name)()
    assert got.dtype == np.float32
    np.testing.assert_allclose(got.numpy(), ref(a.astype(np.float64)), rtol=1e-6)
    np.testing.assert_allclose(getattr(F, name)(Tensor(a, device=device)).numpy(), got.numpy())
