"""MaxPool1d, AvgPool1d, AdaptiveAvgPool1d, AdaptiveMaxPool1d/2d (and F.*) against NumPy
loops, gradcheck/gradgradcheck, indices, errors; Upsample and the new layers against PyTorch
where installed."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_nv.nn as nn
import tinygrad_nv.nn.functional as F
from tinygrad_nv import Tensor

from ..helpers import check_op


def rand(*shape, seed=0):
    return np.random.default_rng(seed).permutation(np.prod(shape)).reshape(shape) / 7.0 - 1


def windows_1d(n, k, s, p, d, ceil_mode):
    """PyTorch's window starts (padded coordinates) along one axis."""
    out = (n + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= n + p:
        out -= 1
    return [i * s for i in range(out)]


def max_pool1d_reference(x, k, s, p, d, ceil_mode):
    padded = np.pad(x, ((0, 0), (0, 0), (p, p + k * d)), constant_values=-np.inf)
    starts = windows_1d(x.shape[-1], k, s, p, d, ceil_mode)
    return np.stack([padded[..., i:i + d * (k - 1) + 1:d].max(-1) for i in starts], -1)


def avg_pool1d_reference(x, k, s, p, ceil_mode, count_include_pad):
    n = x.shape[-1]
    padded = np.pad(x, ((0, 0), (0, 0), (p, p + k)))
    out = []
    for i in windows_1d(n, k, s, p, 1, ceil_mode):
        stop = min(i + k, n + 2 * p)  # windows never count what runs past the padding
        count = stop - i if count_include_pad else min(stop, n + p) - max(i, p)
        out.append(padded[..., i:stop].sum(-1) / count)
    return np.stack(out, -1)


def adaptive_windows(n, m):
    return [(i * n // m, math.ceil((i + 1) * n / m)) for i in range(m)]


def adaptive_max_2d_reference(x, oh, ow):
    h, w = x.shape[-2:]
    out = np.empty((*x.shape[:-2], oh, ow))
    index = np.empty(out.shape, dtype=np.int64)
    for i, (h0, h1) in enumerate(adaptive_windows(h, oh)):
        for j, (w0, w1) in enumerate(adaptive_windows(w, ow)):
            window = x[..., h0:h1, w0:w1].reshape(*x.shape[:-2], -1)
            out[..., i, j] = window.max(-1)
            first = window.argmax(-1)
            index[..., i, j] = (h0 + first // (w1 - w0)) * w + w0 + first % (w1 - w0)
    return out, index


@pytest.mark.parametrize("k,s,p,d,ceil_mode", [
    (2, None, 0, 1, False), (3, 2, 1, 1, True), (3, 1, 1, 2, False), (2, 3, 1, 1, True)])
def test_max_pool1d(k, s, p, d, ceil_mode, device):
    x = Tensor(rand(2, 3, 9), device=device)
    check_op(lambda a: F.max_pool1d(a, k, s, p, d, ceil_mode),
             lambda a: max_pool1d_reference(a, k, s or k, p, d, ceil_mode), x)
    out, index = F.max_pool1d(x, k, s, p, d, ceil_mode, return_indices=True)
    np.testing.assert_array_equal(np.take_along_axis(x.numpy(), index.numpy(), -1), out.numpy())
    layer = nn.MaxPool1d(k, s, p, d, return_indices=True, ceil_mode=ceil_mode)
    np.testing.assert_array_equal(layer(x[0])[1].numpy(), index.numpy()[0])  # unbatched


@pytest.mark.parametrize("k,s,p,ceil_mode,count_include_pad", [
    (2, None, 0, False, True), (3, 2, 1, True, True), (3, 2, 1, True, False),
    (4, 3, 2, False, False)])
def test_avg_pool1d(k, s, p, ceil_mode, count_include_pad, device):
    x = Tensor(rand(2, 2, 8), device=device)
    check_op(lambda a: nn.AvgPool1d(k, s, p, ceil_mode, count_include_pad)(a),
             lambda a: avg_pool1d_reference(a, k, s or k, p, ceil_mode, count_include_pad), x)


@pytest.mark.parametrize("out", [1, 3, 4, 7])
def test_adaptive_avg_pool1d(out, device):
    x = Tensor(rand(2, 3, 7), device=device)
    def expected(a):
        return np.stack([a[..., i:j].mean(-1) for i, j in adaptive_windows(7, out)], -1)
    check_op(lambda a: nn.AdaptiveAvgPool1d(out)(a), expected, x)


@pytest.mark.parametrize("size", [(3, 2), (1, 1), (5, 4), (2, None)])
def test_adaptive_max_pool2d(size, device):
    x = Tensor(rand(2, 2, 5, 4), device=device)
    oh, ow = size[0], size[1] or 4
    check_op(lambda a: F.adaptive_max_pool2d(a, size),
             lambda a: adaptive_max_2d_reference(a, oh, ow)[0], x)
    out, index = nn.AdaptiveMaxPool2d(size, return_indices=True)(x)
    np.testing.assert_array_equal(index.numpy(), adaptive_max_2d_reference(x.numpy(), oh, ow)[1])
    assert nn.AdaptiveMaxPool2d(size)(x[0]).shape == (2, oh, ow)  # unbatched


def test_adaptive_max_pool_ties_go_to_the_first_maximum():
    x = Tensor(np.ones((1, 1, 3, 3)), requires_grad=True)
    out, index = F.adaptive_max_pool2d(x, 2, return_indices=True)
    np.testing.assert_array_equal(index.numpy()[0, 0], [[0, 1], [3, 4]])
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy()[0, 0], [[1, 1, 0], [1, 1, 0], [0, 0, 0]])
    _, index = nn.AdaptiveMaxPool1d(2, return_indices=True)(Tensor([[[1.0, 5.0, 5.0]]]))
    np.testing.assert_array_equal(index.numpy(), [[[1, 1]]])


@given(st.integers(1, 9), st.integers(1, 9), st.integers(1, 5), st.integers(1, 5))
def test_adaptive_max_pool2d_any_size(h, w, oh, ow):
    x = rand(1, 2, h, w)
    out, index = F.adaptive_max_pool2d(Tensor(x), (oh, ow), return_indices=True)
    expected, expected_index = adaptive_max_2d_reference(x, oh, ow)
    np.testing.assert_array_equal(out.numpy(), expected)
    np.testing.assert_array_equal(index.numpy(), expected_index)


def test_bad_input():
    with pytest.raises(ValueError, match=r"max_pool1d: expected a 2-D \(C, L\) or 3-D"):
        F.max_pool1d(Tensor.ones(1, 2, 3, 4), 2)
    with pytest.raises(ValueError, match="max_pool1d: kernel_size must be an int >= 1"):
        nn.MaxPool1d(0)(Tensor.ones(1, 2, 3))
    with pytest.raises(ValueError, match="avg_pool1d: padding 2 must be at most half"):
        F.avg_pool1d(Tensor.ones(1, 2, 8), 3, padding=2)
    with pytest.raises(ValueError, match=r"adaptive_max_pool2d: expected a 3-D or "
                                         r"4-D input .* \(2, 3\)"):
        F.adaptive_max_pool2d(Tensor.ones(2, 3), 1)
    with pytest.raises(ValueError, match="output_size must be positive"):
        nn.AdaptiveAvgPool1d(0)(Tensor.ones(1, 2, 3))
    with pytest.raises(ValueError, match="output_size must be an int or 2 of them"):
        F.adaptive_max_pool2d(Tensor.ones(1, 2, 3, 3), (1, 2, 3))


def test_reprs():
    assert repr(nn.MaxPool1d(3)) == ("MaxPool1d(kernel_size=3, stride=3, padding=0, "
                                     "dilation=1, ceil_mode=False)")
    assert repr(nn.AdaptiveMaxPool2d((2, 3))) == "AdaptiveMaxPool2d(output_size=(2, 3))"
    assert repr(nn.Upsample(scale_factor=2)) == "Upsample(scale_factor=2.0, mode='nearest')"


@pytest.mark.parametrize("make,shape", [
    (lambda m: m.MaxPool1d(3, 2, 1, ceil_mode=True), (2, 3, 8)),
    (lambda m: m.MaxPool1d(2, return_indices=True), (3, 7)),
    (lambda m: m.AvgPool1d(3, 2, 1, count_include_pad=False), (2, 3, 8)),
    (lambda m: m.AdaptiveAvgPool1d(3), (2, 3, 8)),
    (lambda m: m.AdaptiveMaxPool1d(3), (2, 3, 8)),
    (lambda m: m.AdaptiveMaxPool2d((2, None)), (2, 3, 5, 4)),
    (lambda m: m.AdaptiveMaxPool2d(3, return_indices=True), (3, 7, 5)),
    (lambda m: m.Upsample(scale_factor=1.7, mode="bilinear"), (1, 2, 4, 3)),
    (lambda m: m.Upsample(scale_factor=1.7, mode="bilinear", recompute_scale_factor=True),
     (1, 2, 4, 3)),
    (lambda m: m.Upsample(size=(5, 2), mode="bilinear", align_corners=True), (1, 2, 4, 3)),
    (lambda m: m.Upsample(scale_factor=(2, 1.5)), (1, 2, 4, 3)),
    (lambda m: m.Upsample(scale_factor=0.6, mode="nearest-exact"), (1, 2, 5, 5)),
    (lambda m: m.Upsample(scale_factor=2.5, mode="linear"), (1, 2, 5)),
])
def test_against_torch(make, shape):
    torch = pytest.importorskip("torch")
    from .torch_reference import compare_with_torch
    ours, theirs = make(nn), make(torch.nn)
    compare_with_torch(ours, theirs, rand(*shape), rtol=1e-12, atol=1e-14)
    if getattr(ours, "return_indices", False):
        x = rand(*shape)
        np.testing.assert_array_equal(ours(Tensor(x))[1].numpy(),
                                      theirs(torch.tensor(x))[1].numpy())


@pytest.mark.parametrize("pool", [lambda f, x: f.max_pool2d(x, 2), lambda f, x: f.avg_pool2d(x, 2),
                                  lambda f, x: f.adaptive_max_pool2d(x, 2),
                                  lambda f, x: f.adaptive_avg_pool2d(x, 2),
                                  lambda f, x: f.adaptive_max_pool1d(x[..., 0], 2)],
                         ids=["max", "avg", "adaptive_max", "adaptive_avg", "adaptive_max1d"])
def test_empty_batch_matches_torch(pool, device):
    """N = 0 gives PyTorch's empty output shape and an empty gradient (adaptive max pooling
    refused it as an empty input)."""
    torch = pytest.importorskip("torch")
    x = Tensor(np.zeros((0, 3, 4, 4)), device=device, requires_grad=True)
    out = pool(F, x)
    assert out.shape == tuple(pool(torch.nn.functional, torch.zeros(0, 3, 4, 4)).shape)
    out.sum().backward()
    assert x.grad.shape == (0, 3, 4, 4)
    with pytest.raises(ValueError, match=r"adaptive_max_pool2d: .*no empty axis but N.*\(2, 0,"):
        F.adaptive_max_pool2d(Tensor.ones(2, 0, 4, 4), 2)
