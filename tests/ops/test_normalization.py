"""rms_norm, instance_norm and local_response_norm against NumPy references, gradcheck and
gradgradcheck in float64, running statistics, bad input; PyTorch where installed."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_nv.nn.functional as F
from tinygrad_nv import Tensor
from tinygrad_nv.ops._checks import ShapeError

from ..helpers import check_op


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def rms_reference(x, dims, w=None, eps=1e-6):
    axes = tuple(range(x.ndim - dims, x.ndim))
    out = x / np.sqrt((x * x).mean(axes, keepdims=True) + eps)
    return out if w is None else out * w


def instance_reference(x, w=None, b=None, eps=1e-5):
    axes = tuple(range(2, x.ndim))
    out = (x - x.mean(axes, keepdims=True)) / np.sqrt(x.var(axes, keepdims=True) + eps)
    shape = (1, -1) + (1,) * (x.ndim - 2)
    out = out if w is None else out * w.reshape(shape)
    return out if b is None else out + b.reshape(shape)


def lrn_reference(x, size, alpha=1e-4, beta=0.75, k=1.0):
    sq, c = x * x, x.shape[1]
    div = np.zeros_like(x)
    for i in range(c):
        lo, hi = max(0, i - size // 2), min(c, i + (size - 1) // 2 + 1)
        div[:, i] = sq[:, lo:hi].sum(1)
    return x / (k + alpha / size * div) ** beta


@pytest.mark.parametrize("shape,dims", [((3, 4), 1), ((2, 3, 4), 2), ((5,), 1)])
def test_rms_norm(shape, dims, device):
    x, w = Tensor(rand(*shape), device=device), Tensor(rand(*shape[-dims:], seed=1) + 2,
                                                        device=device)
    check_op(lambda a, b: F.rms_norm(a, shape[-dims:], b, eps=1e-6),
             lambda a, b: rms_reference(a, dims, b), x, w)
    check_op(lambda a: F.rms_norm(a, shape[-1]), lambda a: rms_reference(
        a, 1, eps=np.finfo(np.float64).eps), x, float32=False)


def test_rms_norm_default_eps_is_the_dtype_epsilon():
    x = np.zeros((1, 3), dtype=np.float32)
    x[0, 0] = 1e-4
    got = F.rms_norm(Tensor(x), 3).numpy()
    expected = x / np.sqrt((x * x).mean() + np.finfo(np.float32).eps)
    np.testing.assert_allclose(got, expected, rtol=1e-6)


@pytest.mark.parametrize("shape", [(2, 3, 5), (2, 2, 3, 4)])
def test_instance_norm(shape, device):
    x = Tensor(rand(*shape), device=device)
    w, b = (Tensor(rand(shape[1], seed=s), device=device) for s in (1, 2))
    check_op(lambda a, c, d: F.instance_norm(a, weight=c, bias=d),
             lambda a, c, d: instance_reference(a, c, d), x, w, b, atol=1e-5, rtol=1e-5)


def test_instance_norm_running_statistics(device):
    x = rand(4, 3, 6)
    mean, var = Tensor.zeros(3, device=device), Tensor.ones(3, device=device)
    F.instance_norm(Tensor(x, device=device), mean, var, momentum=0.2)
    np.testing.assert_allclose(mean.numpy(), 0.2 * x.mean(2).mean(0), rtol=1e-6)
    np.testing.assert_allclose(var.numpy(), 0.8 + 0.2 * x.var(2, ddof=1).mean(0), rtol=1e-6)
    # without the input's statistics the running ones normalise (batch norm's eval)
    out = F.instance_norm(Tensor(x, device=device), mean, var, use_input_stats=False)
    expected = (x - mean.numpy()[:, None]) / np.sqrt(var.numpy()[:, None] + 1e-5)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5)


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8])
def test_local_response_norm(size, device):
    x = Tensor(rand(2, 5, 3), device=device)
    check_op(lambda a: F.local_response_norm(a, size, alpha=0.5, beta=0.75, k=2.0),
             lambda a: lrn_reference(a, size, 0.5, 0.75, 2.0), x)
    x4 = Tensor(rand(1, 4, 2, 3), device=device)
    check_op(lambda a: F.local_response_norm(a, size), lambda a: lrn_reference(a, size), x4,
             gradgrad=False)


@given(st.lists(st.integers(1, 4), min_size=1, max_size=4), st.integers(1, 3))
def test_rms_norm_any_shape(shape, dims):
    dims = min(dims, len(shape))
    x = rand(*shape)
    got = F.rms_norm(Tensor(x), tuple(shape[-dims:]), eps=1e-6).numpy()
    np.testing.assert_allclose(got, rms_reference(x, dims), rtol=1e-10)


def test_bad_input():
    x = Tensor(rand(2, 3, 4))
    with pytest.raises(ShapeError, match=r"rms_norm: normalized_shape \(3,\).*\(2, 3, 4\)"):
        F.rms_norm(x, 3)
    with pytest.raises(ValueError, match="rms_norm: weight must have shape"):
        F.rms_norm(x, 4, Tensor.ones(3))
    with pytest.raises(TypeError, match="floating point"):
        F.rms_norm(Tensor([[1, 2]]), 2)
    with pytest.raises(ValueError, match="more than 1 spatial element"):
        F.instance_norm(Tensor(rand(2, 3, 1)))
    with pytest.raises(ValueError, match=r"running_mean must have shape \(3,\)"):
        F.instance_norm(x, Tensor.zeros(4), Tensor.ones(4))
    with pytest.raises(ValueError, match="3-D or higher"):
        F.local_response_norm(Tensor(rand(2, 3)), 2)
    with pytest.raises(ValueError, match="size must be a positive int"):
        F.local_response_norm(x, 0)


def test_against_torch():
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    x, w = rand(2, 3, 4), rand(4, seed=1)
    np.testing.assert_allclose(F.rms_norm(Tensor(x), [4], Tensor(w)).numpy(),
                               tf.rms_norm(torch.tensor(x), [4], torch.tensor(w)).numpy(),
                               rtol=1e-12)
    np.testing.assert_allclose(F.instance_norm(Tensor(x)).numpy(),
                               tf.instance_norm(torch.tensor(x)).numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(F.local_response_norm(Tensor(x), 2, 0.1).numpy(),
                               tf.local_response_norm(torch.tensor(x), 2, 0.1).numpy(),
                               rtol=1e-12)


def test_float16_computes_in_float32_as_pytorch():
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    x = rand(2, 3, 4).astype(np.float16)
    for ours, theirs in ((F.rms_norm(Tensor(x), 4), tf.rms_norm(torch.tensor(x), [4])),
                         (F.instance_norm(Tensor(x)), tf.instance_norm(torch.tensor(x)))):
        assert ours.dtype == np.float16
        np.testing.assert_allclose(ours.numpy().astype(np.float64),
                                   theirs.numpy().astype(np.float64), atol=2e-3)
