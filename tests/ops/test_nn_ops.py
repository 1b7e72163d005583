"""The structural nn ops (ops/nn.py): im2col / col2im against a loop reference and as each
other's adjoint, and the fused cross-entropy's first and second derivatives."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as hst

from tests.helpers import check_op
from tinygrad_nv import Tensor, grad
from tinygrad_nv.ops.conv import Col2Im, Im2Col
from tinygrad_nv.ops.loss import CrossEntropy
from tinygrad_nv.testing import gradcheck, gradgradcheck


def im2col_ref(x, kernel, stride, padding, dilation):
    """Column (c, i, j) x (oy, ox) = padded x[c, oy*s + i*d, ox*s + j*d], one pixel at a time."""
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
    padded = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    cols = np.zeros((n, c, kh, kw, oh, ow))
    for ci, i, j, oy, ox in np.ndindex(c, kh, kw, oh, ow):
        cols[:, ci, i, j, oy, ox] = padded[:, ci, oy * sh + i * dh, ox * sw + j * dw]
    return cols.reshape(n, c * kh * kw, oh * ow)


@hst.composite
def geometries(draw):
    kernel = (draw(hst.integers(1, 3)), draw(hst.integers(1, 3)))
    stride = (draw(hst.integers(1, 2)), draw(hst.integers(1, 2)))
    padding = (draw(hst.integers(0, 1)), draw(hst.integers(0, 1)))
    dilation = (draw(hst.integers(1, 2)), draw(hst.integers(1, 2)))
    size = [max(1, d * (k - 1) + 1 - 2 * p + draw(hst.integers(0, 2)))
            for k, p, d in zip(kernel, padding, dilation, strict=True)]
    shape = (draw(hst.integers(1, 2)), draw(hst.integers(1, 2)), *size)
    return shape, dict(kernel=kernel, stride=stride, padding=padding, dilation=dilation)


@settings(max_examples=15)
@given(geometry=geometries())
def test_im2col(geometry, device):
    shape, kw = geometry
    x = Tensor(np.random.default_rng(0).standard_normal(shape), device=device)
    check_op(lambda t: Im2Col.apply(t, **kw),
             lambda a: im2col_ref(a, kw["kernel"], kw["stride"], kw["padding"], kw["dilation"]),
             x, gradgrad=False)


@settings(max_examples=15)
@given(geometry=geometries())
def test_col2im_is_the_adjoint_of_im2col(geometry, device):
    shape, kw = geometry
    rng = np.random.default_rng(1)
    x = Tensor(rng.standard_normal(shape), device=device)
    cols_shape = im2col_ref(x.numpy(), kw["kernel"], kw["stride"], kw["padding"],
                            kw["dilation"]).shape
    c = Tensor(rng.standard_normal(cols_shape), device=device)
    lhs = (Im2Col.apply(x, **kw) * c).sum().item()
    rhs = (x * Col2Im.apply(c, x_shape=shape, **kw)).sum().item()
    np.testing.assert_allclose(lhs, rhs, rtol=1e-10)


def test_im2col_col2im_double_backward(device):
    kw = dict(kernel=(2, 2), stride=(1, 2), padding=(1, 0), dilation=(1, 1))
    x = Tensor(np.random.default_rng(2).standard_normal((1, 2, 3, 4)), device=device)
    gradgradcheck(lambda t: Im2Col.apply(t, **kw) ** 2, [x])
    c = Tensor(np.random.default_rng(3).standard_normal((1, 8, 8)), device=device)
    gradgradcheck(lambda t: Col2Im.apply(t, x_shape=(1, 2, 3, 4), **kw) ** 2, [c])


def cross_entropy_rows_ref(logits, targets, smoothing, ignore_index):
    shifted = logits - logits.max(axis=1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    n, c = logits.shape
    valid = targets != ignore_index
    picked = logp[np.arange(n), np.where(valid, targets, 0)]
    loss = -(1 - smoothing) * picked - smoothing / c * logp.sum(axis=1)
    return np.where(valid, loss, 0.0)


@settings(max_examples=15)
@given(n=hst.integers(1, 5), c=hst.integers(1, 5), smoothing=hst.sampled_from([0.0, 0.1, 1.0]),
       seed=hst.integers(0, 100))
def test_cross_entropy_rows(n, c, smoothing, seed, device):
    rng = np.random.default_rng(seed)
    logits = Tensor(rng.standard_normal((n, c)) * 3, device=device)
    targets = rng.integers(0, c, n)
    targets[rng.random(n) < 0.3] = -1  # ignored rows
    t = Tensor(targets, device=device)
    check_op(lambda x: CrossEntropy.apply(x, t, label_smoothing=smoothing, ignore_index=-1),
             lambda a: cross_entropy_rows_ref(a, targets, smoothing, -1), logits)


def test_cross_entropy_gradient_of_row_weights(device):
    """Double backward also reaches the incoming row gradient (CrossEntropyGrad's 2nd input)."""
    rng = np.random.default_rng(4)
    logits = Tensor(rng.standard_normal((3, 4)), device=device, requires_grad=True)
    t = Tensor([1, 3, 0], device=device)
    w = Tensor(rng.standard_normal(3), device=device, requires_grad=True)

    def dlogits(x, weights):
        loss = (CrossEntropy.apply(x, t, label_smoothing=0.2, ignore_index=-100)
                * weights).sum()
        return grad(loss, [x], create_graph=True)[0]

    gradcheck(dlogits, [logits, w])
