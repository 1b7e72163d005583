"""Depthwise convolution on the CPU (ops/depthwise.py: conv2d with groups = in = out
channels, on the cpu device whatever the default is): values against a direct NumPy loop,
gradients against finite differences (and second derivatives through Conv2d's recorded
backward), the same results as the im2col path it replaces, low precision, and PyTorch where
installed."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hst

import tinygrad_nv.nn.functional as F
from tinygrad_nv import Tensor
from tinygrad_nv.ops.conv import Conv2d
from tinygrad_nv.ops.depthwise import DepthwiseConv2d
from tinygrad_nv.testing import gradcheck, gradgradcheck


def cpu(values, requires_grad: bool = False) -> Tensor:
    return Tensor(values, device="cpu", requires_grad=requires_grad)


def direct(x, w, b, stride, padding, dilation):
    """The depthwise cross-correlation written out, in float64."""
    n, c, h, wd = x.shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = w.shape[2:], stride, padding, dilation
    padded = np.zeros((n, c, h + 2 * ph, wd + 2 * pw))
    padded[:, :, ph:ph + h, pw:pw + wd] = x
    oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (wd + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((n, c, oh, ow))
    for i in range(kh):
        for j in range(kw):
            window = padded[:, :, i * dh:i * dh + sh * (oh - 1) + 1:sh,
                            j * dw:j * dw + sw * (ow - 1) + 1:sw]
            out += window * w[None, :, 0, i, j, None, None]
    return out if b is None else out + b[None, :, None, None]


GEOMETRIES = [((1, 1), (1, 1), (1, 1)), ((2, 2), (1, 1), (1, 1)), ((1, 2), (0, 2), (2, 1)),
              ((2, 1), (2, 0), (1, 2))]


@pytest.mark.parametrize("stride, padding, dilation", GEOMETRIES)
@pytest.mark.parametrize("bias", [True, False])
def test_values_and_gradients(stride, padding, dilation, bias):
    rng = np.random.default_rng(0)
    x = cpu(rng.standard_normal((2, 9, 5, 3)), requires_grad=True)
    w = cpu(rng.standard_normal((9, 1, 3, 2)), requires_grad=True)
    b = cpu(rng.standard_normal(9), requires_grad=True) if bias else None
    inputs = [x, w] + ([b] if bias else [])

    def fn(*t):
        return F.conv2d(t[0], t[1], t[2] if bias else None, stride, padding, dilation, groups=9)
    got = fn(*inputs)
    np.testing.assert_allclose(got.numpy(), direct(x.numpy(), w.numpy(), None if b is None
                                                   else b.numpy(), stride, padding, dilation),
                               rtol=1e-12, atol=1e-12)
    assert type(got.grad_fn).__name__ == "DepthwiseConv2d"
    gradcheck(fn, inputs)
    gradgradcheck(fn, inputs)


@settings(max_examples=25, deadline=None)
@given(n=hst.integers(1, 3), c=hst.integers(1, 5), h=hst.integers(3, 9), k=hst.integers(1, 3),
       stride=hst.integers(1, 2), padding=hst.integers(0, 2))
def test_equals_the_im2col_path(n, c, h, k, stride, padding):
    """The same float32 numbers as Conv2d's im2col and per-channel products (to rounding),
    forward and backward."""
    rng = np.random.default_rng(n * 100 + c * 10 + h)
    xa = rng.standard_normal((n, c, h, h + 1)).astype(np.float32)
    wa = rng.standard_normal((c, 1, k, k)).astype(np.float32)
    ga = None
    results = []
    for path in ("depthwise", "im2col"):
        x, w = cpu(xa, requires_grad=True), cpu(wa, requires_grad=True)
        geometry = dict(kernel=(k, k), stride=(stride, stride), padding=(padding, padding),
                        dilation=(1, 1))
        y = DepthwiseConv2d.apply(x, w, geometry=geometry) if path == "depthwise" else \
            Conv2d.apply(x, w, geometry=geometry, groups=c)
        if ga is None:
            ga = rng.standard_normal(y.shape).astype(np.float32)
        y.backward(cpu(ga))
        results.append((y.numpy(), x.grad.numpy(), w.grad.numpy()))
    for ours, theirs in zip(*results, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", ["float16", "float32"])
def test_low_precision_computes_in_float32(dtype):
    rng = np.random.default_rng(3)
    xa, wa = rng.standard_normal((2, 16, 4, 4)), rng.standard_normal((16, 1, 3, 3))
    y = F.conv2d(cpu(xa.astype(dtype)), cpu(wa.astype(dtype)), padding=1, groups=16)
    assert y.dtype == np.dtype(dtype) and type(y.grad_fn).__name__ != "Conv2d"
    expected = direct(xa.astype(dtype).astype(np.float64), wa.astype(dtype).astype(np.float64),
                      None, (1, 1), (1, 1), (1, 1)).astype(dtype)
    np.testing.assert_allclose(y.numpy().astype(np.float64), expected, rtol=2e-3, atol=2e-3)


def test_against_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    xa = rng.standard_normal((3, 12, 7, 7)).astype(np.float32)
    wa = rng.standard_normal((12, 1, 3, 3)).astype(np.float32)
    ba = rng.standard_normal(12).astype(np.float32)
    x, w, b = (cpu(a, requires_grad=True) for a in (xa, wa, ba))
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (xa, wa, ba))
    y = F.conv2d(x, w, b, 2, 1, groups=12)
    assert type(y.grad_fn).__name__ == "DepthwiseConv2d"
    ty = torch.nn.functional.conv2d(tx, tw, tb, 2, 1, groups=12)
    (y * y).sum().backward()
    (ty * ty).sum().backward()
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-5, atol=1e-5)
    for ours, theirs in ((x, tx), (w, tw), (b, tb)):
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-4,
                                   atol=1e-4)


@pytest.mark.parametrize("channels, width, path", [(16, 4, "DepthwiseConv2d"),
                                                   (16, 8, "Conv2d"), (8, 8, "Conv2d")])
def test_taps_where_channels_outnumber_twice_the_output_width(channels, width, path):
    """The taps pay off on short rows of many channels; im2col keeps wide maps."""
    x = cpu(np.ones((1, channels, width, width), np.float32), requires_grad=True)
    w = cpu(np.ones((channels, 1, 3, 3), np.float32))
    assert type(F.conv2d(x, w, padding=1, groups=channels).grad_fn).__name__ == path
