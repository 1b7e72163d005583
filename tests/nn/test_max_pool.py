"""max_pool2d in one pass each way (kernels.max_pool2d / max_pool2d_backward): values, indices
and gradients against a loop over each window with PyTorch's rule (the first maximum, the last
NaN, the first pixel of a window of -inf) and against PyTorch; the CUDA kernels on emu against
the NumPy reference; double backward."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hst

import tinygrad_nv.nn.functional as F
from tests.helpers import check_op
from tinygrad_nv import Tensor
from tinygrad_nv.backend import get_backend
from tinygrad_nv.backend.numpy_kernels import NumpyKernels
from tinygrad_nv.testing import gradgradcheck


def pool_ref(x, g, kernel, stride, padding, dilation, out):
    """Values, flat indices and input gradient, window by window: PyTorch's CPU loop (the first
    pixel inside the image starts a window; a later one wins where greater or NaN)."""
    (n, c, h, w), (kh, kw) = x.shape, kernel
    values, index, grad = np.zeros((n, c, *out)), np.zeros((n, c, *out), int), np.zeros(x.shape)
    for b, ch, oy, ox in np.ndindex(n, c, *out):
        best, where = -math.inf, None
        for ki, kj in np.ndindex(kh, kw):
            y, xx = oy * stride[0] - padding[0] + ki * dilation[0], \
                ox * stride[1] - padding[1] + kj * dilation[1]
            if 0 <= y < h and 0 <= xx < w:
                where = where or (y, xx)
                v = x[b, ch, y, xx]
                if v > best or math.isnan(v):
                    best, where = v, (y, xx)
        values[b, ch, oy, ox], index[b, ch, oy, ox] = best, where[0] * w + where[1]
        grad[b, ch, where[0], where[1]] += g[b, ch, oy, ox]
    return values, index, grad


def tied(shape, seed):
    """ReLU-like data with many exact ties (zeros and repeated small integers)."""
    rng = np.random.default_rng(seed)
    return np.maximum(np.round(rng.standard_normal(shape) * 1.5), 0.0)


GEOMETRIES = [  # kernel, stride, padding, dilation, ceil_mode
    ((2, 2), (2, 2), (0, 0), (1, 1), False), ((3, 3), (3, 3), (0, 0), (1, 1), False),
    ((3, 2), (2, 1), (1, 1), (1, 1), False), ((3, 3), (2, 2), (1, 0), (2, 1), True),
    ((2, 3), (1, 2), (0, 1), (1, 2), True), ((1, 3), (1, 3), (0, 0), (1, 1), True)]


@settings(max_examples=10)
@given(geometry=hst.sampled_from(GEOMETRIES), extra=hst.integers(0, 2),
       seed=hst.integers(0, 2**16))
def test_against_the_loop_with_ties(geometry, extra, seed, device):
    kernel, stride, padding, dilation, ceil = geometry
    x_host = tied((2, 3, 7 + extra, 8 - extra), seed)
    x = Tensor(x_host, device=device, requires_grad=True)
    values, index = F.max_pool2d(x, kernel, stride, padding, dilation, ceil, True)
    g_host = np.random.default_rng(seed + 1).standard_normal(values.shape)
    values.backward(Tensor(g_host, device=device))
    want = pool_ref(x_host, g_host, kernel, stride, padding, dilation, values.shape[2:])
    np.testing.assert_array_equal(values.numpy(), want[0])
    np.testing.assert_array_equal(index.numpy(), want[1])
    assert index.dtype == np.int64
    np.testing.assert_allclose(x.grad.numpy(), want[2], rtol=1e-12)


def test_nan_inf_and_non_finite_gradients(device):
    x_host = np.zeros((1, 1, 4, 4))
    x_host[0, 0, 1, 0] = x_host[0, 0, 0, 1] = np.nan  # window (0, 0): its last NaN is (1, 0)
    x_host[0, 0, 2:, :2] = -np.inf  # window (1, 0): all -inf, the first pixel wins
    g_host = np.array([[[[1.0, np.inf], [-np.inf, np.nan]]]])
    for padding in (0, 1):
        x = Tensor(x_host, device=device, requires_grad=True)
        kernel = 2 + padding
        values, index = F.max_pool2d(x, kernel, 2, padding, return_indices=True)
        g = g_host if padding == 0 else np.ones(values.shape)
        values.backward(Tensor(g, device=device))
        want = pool_ref(x_host, g, (kernel,) * 2, (2, 2), (padding,) * 2, (1, 1),
                        values.shape[2:])
        np.testing.assert_array_equal(values.numpy(), want[0])  # NaN where NaN
        np.testing.assert_array_equal(index.numpy(), want[1])
        np.testing.assert_array_equal(x.grad.numpy(), want[2])  # 0 (not NaN) off the maxima


@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_against_pytorch(geometry, device):
    torch = pytest.importorskip("torch")
    kernel, stride, padding, dilation, ceil = geometry
    x_host = np.random.default_rng(0).standard_normal((2, 3, 9, 10)).astype(np.float32)
    x_host[0, 0, :3, :3] = np.nan
    x = Tensor(x_host, device=device, requires_grad=True)
    values, index = F.max_pool2d(x, kernel, stride, padding, dilation, ceil, True)
    t = torch.tensor(x_host, requires_grad=True)
    t_values, t_index = torch.nn.functional.max_pool2d(t, kernel, stride, padding, dilation,
                                                       ceil, True)
    g = np.random.default_rng(1).standard_normal(values.shape).astype(np.float32)
    values.backward(Tensor(g, device=device))
    t_values.backward(torch.tensor(g))
    np.testing.assert_array_equal(values.numpy(), t_values.detach().numpy())
    np.testing.assert_array_equal(index.numpy(), t_index.numpy())
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-6)


def test_gradients_match_finite_differences(device):
    x = Tensor(np.random.default_rng(3).standard_normal((2, 2, 5, 6)), device=device)
    for args in ((2,), ((1, 3), None, 0, 1, True), (3, 2, 1, (1, 2))):
        out = F.max_pool2d(x, *args)
        check_op(lambda t, args=args: F.max_pool2d(t, *args),
                 lambda a, args=args, out=out: pool_ref(
                     a, np.zeros(out.shape), *_full(*args), out.shape[2:])[0], x)
    gradgradcheck(lambda t: F.max_pool2d(t, 3, 2, 1) ** 2, [x])


def _full(kernel, stride=None, padding=0, dilation=1, ceil_mode=False):
    def two(v):
        return v if isinstance(v, tuple) else (v, v)
    return two(kernel), two(kernel if stride is None else stride), two(padding), two(dilation)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_kernels_on_emu_match_the_numpy_reference(geometry, dtype):
    kernel, stride, padding, dilation, ceil = geometry
    x = np.random.default_rng(0).standard_normal((2, 3, 9, 10)).astype(dtype)
    x.reshape(-1)[::13] = np.nan
    x.reshape(-1)[5::17] = -np.inf
    out = F.max_pool2d(Tensor(x), kernel, stride, padding, dilation, ceil).shape[2:]
    ref, emu = NumpyKernels(np), get_backend("emu").kernels
    values, taps = emu.max_pool2d(x, kernel, stride, padding, dilation, out)
    want_values, want_taps = ref.max_pool2d(x, kernel, stride, padding, dilation, out)
    np.testing.assert_array_equal(values, want_values)
    np.testing.assert_array_equal(taps, want_taps)
    g = np.random.default_rng(1).standard_normal(values.shape).astype(dtype)
    g.reshape(-1)[::7] = np.inf
    np.testing.assert_array_equal(
        emu.max_pool2d_backward(g, taps, x.shape, kernel, stride, padding, dilation),
        ref.max_pool2d_backward(g, want_taps, x.shape, kernel, stride, padding, dilation))


def test_backward_keeps_one_small_integer_per_output():
    x = Tensor(np.random.default_rng(0).standard_normal((4, 8, 16, 16)), device="cpu",
               requires_grad=True)
    out = F.max_pool2d(x, 2)
    assert out._ctx.taps.dtype == np.uint8 and out._ctx.taps.shape == out.shape
