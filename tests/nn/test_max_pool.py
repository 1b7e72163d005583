"""max_pool2d where the windows tile the input (stride == kernel, no padding, dilation 1): the
TiledMaxPool path, against a NumPy reference and against the general im2col path."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as hst

import tinygrad_nv.nn.functional as F
from tests.helpers import check_op
from tinygrad_nv import Tensor


def tiled_ref(x, g, kernel):
    """Values and input gradient of a tiling max pool: the gradient of each window goes to its
    first maximum in row-major order (np.argmax: the first NaN, if any)."""
    (kh, kw), (n, c, h, w) = kernel, x.shape
    oh, ow = h // kh, w // kw
    out, grad = np.zeros((n, c, oh, ow), x.dtype), np.zeros_like(x)
    for b, ch, i, j in np.ndindex(n, c, oh, ow):
        window = x[b, ch, i * kh:(i + 1) * kh, j * kw:(j + 1) * kw]
        top, left = divmod(int(np.argmax(window)), kw)
        out[b, ch, i, j] = window[top, left]
        grad[b, ch, i * kh + top, j * kw + left] = g[b, ch, i, j]
    return out, grad


def tied(shape, seed):
    """ReLU-like data with many exact ties (zeros and repeated small integers)."""
    rng = np.random.default_rng(seed)
    return np.maximum(np.round(rng.standard_normal(shape) * 1.5), 0.0)


@settings(max_examples=15)
@given(kh=hst.integers(1, 3), kw=hst.integers(1, 3), rest_h=hst.integers(0, 2),
       rest_w=hst.integers(0, 2), seed=hst.integers(0, 2**16))
def test_values_and_first_maximum_gradient(kh, kw, rest_h, rest_w, seed, device):
    shape = (2, 3, 2 * kh + min(rest_h, kh - 1), 3 * kw + min(rest_w, kw - 1))
    x_host = tied(shape, seed)
    g_host = np.random.default_rng(seed + 1).standard_normal((2, 3, 2, 3))
    x = Tensor(x_host, device=device, requires_grad=True)
    out = F.max_pool2d(x, (kh, kw))
    out.backward(Tensor(g_host, device=device))
    want_out, want_grad = tiled_ref(x_host, g_host, (kh, kw))
    np.testing.assert_array_equal(out.numpy(), want_out)
    np.testing.assert_array_equal(x.grad.numpy(), want_grad)


def test_nan_window_and_non_finite_gradient(device):
    x_host = np.zeros((1, 1, 4, 4))
    x_host[0, 0, 1, 0] = x_host[0, 0, 1, 1] = np.nan  # window (0, 0): its first NaN is (1, 0)
    g_host = np.array([[[[1.0, np.inf], [-np.inf, np.nan]]]])
    x = Tensor(x_host, device=device, requires_grad=True)
    out = F.max_pool2d(x, 2)
    out.backward(Tensor(g_host, device=device))
    want_out, want_grad = tiled_ref(x_host, g_host, (2, 2))
    np.testing.assert_array_equal(out.numpy(), want_out)  # NaN where NaN, equal elsewhere
    np.testing.assert_array_equal(x.grad.numpy(), want_grad)  # 0 (not NaN) off the maxima


@settings(max_examples=6)
@given(kernel=hst.sampled_from([1, 2, 3, (2, 3)]), seed=hst.integers(0, 2**16))
def test_same_as_the_im2col_path(kernel, seed, device):
    x_host = tied((2, 2, 7, 8), seed)
    g_host = np.random.default_rng(seed).standard_normal(F.max_pool2d(
        Tensor(x_host), kernel).shape)
    results = []
    for indices in (False, True):  # return_indices takes the general (im2col) path
        x = Tensor(x_host, device=device, requires_grad=True)
        out = F.max_pool2d(x, kernel, return_indices=indices)
        (out[0] if indices else out).backward(Tensor(g_host, device=device))
        results.append(((out[0] if indices else out).numpy(), x.grad.numpy()))
    for tiled, general in zip(*results, strict=True):
        np.testing.assert_array_equal(tiled, general)


def test_gradients_match_finite_differences(device):
    x = Tensor(np.random.default_rng(3).standard_normal((2, 2, 5, 6)), device=device)
    check_op(lambda t: F.max_pool2d(t, 2),
             lambda a: tiled_ref(a, np.zeros((2, 2, 2, 3)), (2, 2))[0], x)
    check_op(lambda t: F.max_pool2d(t, (1, 3), ceil_mode=True),
             lambda a: tiled_ref(a, np.zeros((2, 2, 5, 2)), (1, 3))[0], x)
