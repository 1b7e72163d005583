"""nn.functional layers of issue 9 (conv1d, conv_transpose2d, pooling modes, adaptive pooling,
interpolate, group_norm, normalize, embedding(padding_idx), scaled_dot_product_attention)
against NumPy references written here, gradients in float64, and clear errors."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hst

import tinygrad_nv.nn.functional as F
from tests.helpers import check_op
from tinygrad_nv import Tensor
from tinygrad_nv.testing import gradcheck, gradgradcheck


def rand(*shape, seed=0, device=None):
    return Tensor(np.random.default_rng(seed).standard_normal(shape), device=device)


# ---------------------------------------------------------------------- references
def conv_transpose2d_ref(x, w, b, stride, padding, output_padding, groups, dilation):
    """Scatter every input pixel times its kernel into the (uncropped) output, then crop."""
    n, c, h, wd = x.shape
    _, cout_g, kh, kw = w.shape
    full = np.zeros((n, cout_g * groups, (h - 1) * stride + dilation * (kh - 1) + 1
                     + output_padding, (wd - 1) * stride + dilation * (kw - 1) + 1
                     + output_padding))
    per_group = c // groups
    for ci, y, x_, i, j in np.ndindex(c, h, wd, kh, kw):
        g = ci // per_group
        full[:, g * cout_g:(g + 1) * cout_g, y * stride + i * dilation,
             x_ * stride + j * dilation] += x[:, ci, y, x_, None] * w[ci, :, i, j]
    out = full[:, :, padding:full.shape[2] - padding, padding:full.shape[3] - padding]
    return out if b is None else out + b.reshape(1, -1, 1, 1)


def conv1d_ref(x, w, stride, padding, dilation):
    n, c, length = x.shape
    cout, _, k = w.shape
    padded = np.pad(x, ((0, 0), (0, 0), (padding, padding)))
    out_len = (length + 2 * padding - dilation * (k - 1) - 1) // stride + 1
    out = np.zeros((n, cout, out_len))
    for o, t in np.ndindex(cout, out_len):
        window = padded[:, :, t * stride:t * stride + dilation * (k - 1) + 1:dilation]
        out[:, o, t] = (window * w[o]).sum(axis=(1, 2))
    return out


def adaptive_ref(x, oh, ow):
    h, w = x.shape[2:]
    out = np.zeros((*x.shape[:2], oh, ow))
    for i, j in np.ndindex(oh, ow):
        rows = slice(i * h // oh, math.ceil((i + 1) * h / oh))
        cols = slice(j * w // ow, math.ceil((j + 1) * w / ow))
        out[:, :, i, j] = x[:, :, rows, cols].mean(axis=(2, 3))
    return out


def bilinear_ref(x, oh, ow, align_corners):
    """Each output pixel from its four neighbours, PyTorch's source coordinates."""
    h, w = x.shape[2:]

    def source(i, n_in, n_out):
        if align_corners:
            return i * (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
        return max((i + 0.5) * n_in / n_out - 0.5, 0.0)

    out = np.zeros((*x.shape[:2], oh, ow))
    for i, j in np.ndindex(oh, ow):
        sy, sx = source(i, h, oh), source(j, w, ow)
        y0, x0 = min(int(sy), h - 1), min(int(sx), w - 1)
        y1, x1 = min(y0 + 1, h - 1), min(x0 + 1, w - 1)
        fy, fx = sy - y0, sx - x0
        out[:, :, i, j] = ((1 - fy) * (1 - fx) * x[:, :, y0, x0] + (1 - fy) * fx * x[:, :, y0, x1]
                           + fy * (1 - fx) * x[:, :, y1, x0] + fy * fx * x[:, :, y1, x1])
    return out


def attention_ref(q, k, v, keep=None, additive=None, causal=False, scale=None):
    """softmax(q k^T * scale + mask) v, written out; rows with nothing to attend to are 0."""
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    scores = q @ np.swapaxes(k, -1, -2) * scale
    allowed = np.ones(scores.shape, dtype=bool)
    if keep is not None:
        allowed &= np.broadcast_to(keep, scores.shape)
    if causal:
        allowed &= np.tril(np.ones(scores.shape[-2:], dtype=bool))
    if additive is not None:
        scores = scores + additive
    scores = np.where(allowed, scores, -np.inf)
    top = np.max(scores, axis=-1, keepdims=True)
    e = np.where(allowed, np.exp(scores - np.where(np.isfinite(top), top, 0)), 0.0)
    total = e.sum(axis=-1, keepdims=True)
    return (e / np.where(total > 0, total, 1)) @ v


# ---------------------------------------------------------------------- convolutions
@settings(max_examples=10)
@given(stride=hst.integers(1, 3), padding=hst.integers(0, 2), extra=hst.integers(0, 2),
       groups=hst.integers(1, 2), dilation=hst.integers(1, 2), k=hst.integers(1, 3),
       with_bias=hst.booleans())
def test_conv_transpose2d(stride, padding, extra, groups, dilation, k, with_bias, device):
    extra = min(extra, stride - 1)
    h, w = 3, 2
    if (w - 1) * stride - 2 * padding + dilation * (k - 1) + extra + 1 < 1:  # w < h
        padding = 0
    x = rand(2, 2 * groups, h, w, seed=1, device=device)
    weight = rand(2 * groups, 2, k, k, seed=2, device=device)
    bias = rand(2 * groups, seed=3, device=device)
    inputs = [x, weight, bias] if with_bias else [x, weight]
    check_op(lambda *t: F.conv_transpose2d(t[0], t[1], t[2] if with_bias else None, stride,
                                           padding, extra, groups, dilation),
             lambda *a: conv_transpose2d_ref(a[0], a[1], a[2] if with_bias else None, stride,
                                             padding, extra, groups, dilation),
             *inputs, gradgrad=False)


def test_conv_transpose2d_is_the_adjoint_of_conv2d(device):
    """<conv2d(x, w), y> == <x, conv_transpose2d(y, w)> for the same geometry."""
    x, w = rand(2, 3, 7, 6, seed=1, device=device), rand(4, 3, 3, 3, seed=2, device=device)
    y = rand(2, 4, 4, 3, seed=3, device=device)
    lhs = (F.conv2d(x, w, stride=2, padding=1) * y).sum().item()
    rhs = (x * F.conv_transpose2d(y, w, stride=2, padding=1, output_padding=(0, 1))).sum()
    np.testing.assert_allclose(lhs, rhs.item(), rtol=1e-10)


@pytest.mark.parametrize("stride,padding,dilation,groups", [(1, 0, 1, 1), (2, 1, 1, 2),
                                                            (1, 2, 2, 1), (3, 1, 1, 1)])
def test_conv1d(stride, padding, dilation, groups, device):
    x, w = rand(2, 4, 9, seed=1, device=device), rand(6, 4 // groups, 3, seed=2, device=device)
    expected = np.concatenate([conv1d_ref(x.numpy()[:, g * (4 // groups):(g + 1) * (4 // groups)],
                                          w.numpy()[g * (6 // groups):(g + 1) * (6 // groups)],
                                          stride, padding, dilation) for g in range(groups)], 1)
    check_op(lambda a, b: F.conv1d(a, b, None, stride, padding, dilation, groups),
             lambda a, b: expected, x, w, gradgrad=False)


def test_conv_padding_same_keeps_the_size_and_valid_is_zero(device):
    x, w = rand(1, 2, 7, seed=1, device=device), rand(3, 2, 4, seed=2, device=device)
    same = F.conv1d(x, w, padding="same", dilation=2)
    assert same.shape == (1, 3, 7)
    padded = np.pad(x.numpy(), ((0, 0), (0, 0), (3, 3)))  # total 2 * 3 = 6: 3 left, 3 right
    np.testing.assert_allclose(same.numpy(), conv1d_ref(padded, w.numpy(), 1, 0, 2))
    np.testing.assert_allclose(F.conv1d(x, w, padding="valid").numpy(),
                               conv1d_ref(x.numpy(), w.numpy(), 1, 0, 1))
    x2, w2 = rand(1, 2, 5, 6, seed=3, device=device), rand(3, 2, 2, 3, seed=4, device=device)
    assert F.conv2d(x2, w2, padding="same").shape == (1, 3, 5, 6)


# ---------------------------------------------------------------------- pooling, resizing
def pool_windows(x, k, stride, padding, dilation, ceil_mode, fill):
    """Every window of x as a list of (output index, values), PyTorch's ceil rule."""
    n, c, h, w = x.shape

    def out_size(size):
        span = size + 2 * padding - dilation * (k - 1) - 1
        out = (-(-span // stride) if ceil_mode else span // stride) + 1
        return out - 1 if ceil_mode and (out - 1) * stride >= size + padding else out

    oh, ow = out_size(h), out_size(w)
    big = np.full((n, c, h + 2 * padding + k * dilation + stride,
                   w + 2 * padding + k * dilation + stride), fill)
    big[:, :, padding:padding + h, padding:padding + w] = x
    for i, j in np.ndindex(oh, ow):
        rows = slice(i * stride, i * stride + dilation * (k - 1) + 1, dilation)
        cols = slice(j * stride, j * stride + dilation * (k - 1) + 1, dilation)
        yield (i, j), (oh, ow), big[:, :, rows, cols]


@settings(max_examples=12)
@given(k=hst.integers(2, 3), stride=hst.integers(1, 3), pad=hst.booleans(),
       dilation=hst.integers(1, 2), extra=hst.integers(0, 3))
def test_max_pool2d_ceil_mode_and_indices(k, stride, pad, dilation, extra, device):
    padding = k // 2 if pad else 0
    side = dilation * (k - 1) + 1 + extra
    x = rand(2, 2, side, side + 1, seed=extra, device=device)
    windows = list(pool_windows(x.numpy(), k, stride, padding, dilation, True, -np.inf))
    expected = np.zeros((2, 2, *windows[0][1]))
    for (i, j), _, values in windows:
        expected[:, :, i, j] = values.max(axis=(2, 3))
    check_op(lambda t: F.max_pool2d(t, k, stride, padding, dilation, ceil_mode=True),
             lambda a: expected, x, gradgrad=False)
    out, indices = F.max_pool2d(x, k, stride, padding, dilation, ceil_mode=True,
                                return_indices=True)
    assert indices.dtype == np.int64 and indices.shape == out.shape
    flat = x.numpy().reshape(2, 2, -1)
    np.testing.assert_array_equal(np.take_along_axis(flat, indices.numpy().reshape(2, 2, -1),
                                                     axis=2).reshape(out.shape), out.numpy())


@pytest.mark.parametrize("include", [True, False])
def test_avg_pool2d_ceil_mode_counts_padding_but_not_the_overrun(include, device):
    x = rand(1, 2, 5, 6, seed=1, device=device)
    k, stride, padding = 3, 2, 1
    ones = np.ones((1, 1, 5, 6))
    windows = zip(pool_windows(x.numpy(), k, stride, padding, 1, True, 0.0),
                  pool_windows(ones, k, stride, padding, 1, True, 0.0), strict=True)
    expected = np.zeros((1, 2, 3, 4))
    for ((i, j), _, values), (_, _, real) in windows:
        in_padded = min(i * stride + k, 5 + 2 * padding) - i * stride
        in_padded *= min(j * stride + k, 6 + 2 * padding) - j * stride
        count = in_padded if include else real.sum()
        expected[:, :, i, j] = values.sum(axis=(2, 3)) / count
    check_op(lambda t: F.avg_pool2d(t, k, stride, padding, ceil_mode=True,
                                    count_include_pad=include),
             lambda a: expected, x, gradgrad=False)
    np.testing.assert_allclose(F.avg_pool2d(x, 2, divisor_override=3).numpy(),
                               F.avg_pool2d(x, 2).numpy() * 4 / 3)


@pytest.mark.parametrize("size", [1, 2, (3, 4), (5, None), (7, 6), (4, 1)])
def test_adaptive_avg_pool2d(size, device):
    x = rand(2, 3, 5, 6, seed=1, device=device)
    oh, ow = (size, size) if isinstance(size, int) else (size[0], size[1] or 6)
    check_op(lambda t: F.adaptive_avg_pool2d(t, size), lambda a: adaptive_ref(a, oh, ow), x,
             gradgrad=False)


@pytest.mark.parametrize("size,align", [((7, 3), False), ((7, 3), True), ((2, 9), False),
                                        ((1, 1), True), ((4, 5), False)])
def test_interpolate_bilinear(size, align, device):
    x = rand(1, 2, 4, 5, seed=1, device=device)
    check_op(lambda t: F.interpolate(t, size=size, mode="bilinear", align_corners=align),
             lambda a: bilinear_ref(a, *size, align), x, gradgrad=False)


def test_interpolate_nearest_and_scale_factor(device):
    x = rand(1, 2, 3, 4, seed=1, device=device)
    twice = np.repeat(np.repeat(x.numpy(), 2, axis=2), 2, axis=3)
    check_op(lambda t: F.interpolate(t, scale_factor=2), lambda a: twice, x, gradgrad=False)
    # nearest picks source floor(i * in / out): 4 -> 3 columns picks 0, 1, 2
    np.testing.assert_array_equal(F.interpolate(x, size=(3, 3)).numpy(), x.numpy()[..., :3])
    line = rand(2, 3, 4, seed=2, device=device)  # 3-D input, 'linear' mode
    np.testing.assert_allclose(
        F.interpolate(line, scale_factor=2, mode="linear").numpy(),
        bilinear_ref(line.numpy()[:, :, None], 1, 8, False)[:, :, 0])


@pytest.mark.parametrize("mode,numpy_mode", [("constant", "constant"), ("reflect", "reflect"),
                                             ("replicate", "edge"), ("circular", "wrap")])
def test_pad_modes(mode, numpy_mode, device):
    x = rand(1, 2, 3, 4, seed=1, device=device)
    expected = np.pad(x.numpy(), ((0, 0), (0, 0), (2, 0), (1, 2)), mode=numpy_mode)
    np.testing.assert_array_equal(F.pad(x, (1, 2, 2, 0), mode=mode).numpy(), expected)
    np.testing.assert_array_equal(F.pad(x, (1, 1), value=7.0).numpy()[..., 0], 7.0)


def test_one_hot(device):
    labels = Tensor(np.array([[0, 3], [2, 1]]), device=device)
    out = F.one_hot(labels, 5)
    assert out.dtype == np.int64 and out.shape == (2, 2, 5)
    np.testing.assert_array_equal(out.numpy(), np.eye(5, dtype=np.int64)[labels.numpy()])
    assert F.one_hot(labels).shape == (2, 2, 4)


# ---------------------------------------------------------------------- normalisation
@pytest.mark.parametrize("groups", [1, 2, 4])
def test_group_norm(groups, device):
    x = rand(2, 4, 3, 2, seed=1, device=device)
    w, b = rand(4, seed=2, device=device), rand(4, seed=3, device=device)

    def ref(a, w_, b_):
        g = a.reshape(2, groups, -1)
        normed = ((g - g.mean(-1, keepdims=True)) / np.sqrt(g.var(-1, keepdims=True) + 1e-5))
        return normed.reshape(a.shape) * w_.reshape(1, 4, 1, 1) + b_.reshape(1, 4, 1, 1)

    check_op(lambda *t: F.group_norm(t[0], groups, t[1], t[2]), ref, x, w, b, gradgrad=False)


@pytest.mark.parametrize("p,dim", [(2.0, 1), (1.0, -1), (3.0, 0)])
def test_normalize(p, dim, device):
    x = rand(3, 4, seed=1, device=device)
    check_op(lambda t: F.normalize(t, p, dim),
             lambda a: a / np.maximum((np.abs(a) ** p).sum(dim, keepdims=True) ** (1 / p),
                                      1e-12), x, gradgrad=False)


def test_normalize_of_a_zero_vector_is_zero_with_zero_gradient(device):
    x = Tensor(np.zeros((2, 3)), device=device, requires_grad=True)
    out = F.normalize(x)
    out.sum().backward()
    np.testing.assert_array_equal(out.numpy(), 0.0)
    assert np.isfinite(x.grad.numpy()).all()


def test_embedding_padding_idx_row_gets_no_gradient(device):
    weight = rand(5, 3, seed=1, device=device).requires_grad_()
    indices = Tensor(np.array([[0, 2, 2], [4, 2, 1]]), device=device)
    out = F.embedding(indices, weight, padding_idx=2)
    np.testing.assert_array_equal(out.numpy(), weight.numpy()[indices.numpy()])
    out.sum().backward()
    expected = np.zeros((5, 3))
    for i in (0, 4, 1):
        expected[i] += 1.0
    np.testing.assert_array_equal(weight.grad.numpy(), expected)


# ---------------------------------------------------------------------- attention
@settings(max_examples=10)
@given(lengths=hst.tuples(hst.integers(1, 5), hst.integers(1, 6)), features=hst.integers(1, 4),
       causal=hst.booleans(), scale=hst.none() | hst.floats(0.1, 2.0))
def test_scaled_dot_product_attention(lengths, features, causal, scale, device):
    q_len, k_len = lengths
    seed = q_len * 7 + k_len
    q = rand(2, q_len, features, seed=seed, device=device)
    k = rand(2, k_len, features, seed=seed + 1, device=device)
    v = rand(2, k_len, 3, seed=seed + 2, device=device)
    check_op(lambda *t: F.scaled_dot_product_attention(*t, is_causal=causal, scale=scale),
             lambda *a: attention_ref(*a, causal=causal, scale=scale), q, k, v, gradgrad=False)


@pytest.mark.parametrize("mask_shape", [(4, 5), (2, 1, 4, 5), (2, 3, 1, 5), (5,), (1, 1, 4, 5)])
def test_attention_masks_broadcast(mask_shape, device):
    q, k = rand(2, 3, 4, 2, seed=1, device=device), rand(2, 3, 5, 2, seed=2, device=device)
    v = rand(2, 3, 5, 2, seed=3, device=device)
    rng = np.random.default_rng(4)
    keep = rng.random(mask_shape) > 0.3
    check_op(lambda *t: F.scaled_dot_product_attention(*t, attn_mask=Tensor(keep, device=device)),
             lambda *a: attention_ref(*a, keep=keep), q, k, v, gradgrad=False)
    additive = Tensor(rng.standard_normal(mask_shape), device=device, requires_grad=True)
    check_op(lambda *t: F.scaled_dot_product_attention(*t[:3], attn_mask=t[3]),
             lambda *a: attention_ref(*a[:3], additive=a[3]), q, k, v, additive, gradgrad=False)


def test_attention_row_with_nothing_to_attend_to_is_zero(device):
    q, k, v = (rand(1, 3, 2, seed=s, device=device).requires_grad_() for s in range(3))
    keep = np.ones((3, 3), dtype=bool)
    keep[1] = False
    additive = np.zeros((3, 3))
    additive[2] = -np.inf
    for mask in (Tensor(keep, device=device), Tensor(additive, device=device)):
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        assert np.isfinite(out.numpy()).all()
        row = 1 if mask.dtype == np.bool_ else 2
        np.testing.assert_array_equal(out.numpy()[0, row], 0.0)
        out.sum().backward()
        assert all(np.isfinite(t.grad.numpy()).all() for t in (q, k, v))


def test_attention_dropout_drops_weights_and_keeps_the_mean(device):
    q = Tensor(np.zeros((1, 200, 1)), device=device)  # uniform weights 1/10
    v = Tensor(np.ones((1, 10, 1)), device=device)
    out = F.scaled_dot_product_attention(q, Tensor(np.zeros((1, 10, 1)), device=device), v,
                                         dropout_p=0.5)
    values = out.numpy().ravel()
    assert not np.allclose(values, 1.0)  # some weights were dropped
    assert abs(values.mean() - 1.0) < 0.15  # survivors are scaled by 1 / (1 - p)


def test_attention_double_backward(device):
    q, k, v = (rand(2, 3, 2, seed=s, device=device) for s in range(3))
    additive = rand(3, 3, seed=4, device=device)
    keep = Tensor(np.tril(np.ones((3, 3), dtype=bool)), device=device)
    gradgradcheck(lambda *t: F.scaled_dot_product_attention(*t[:3], attn_mask=t[3]),
                  [q, k, v, additive])
    gradgradcheck(lambda *t: F.scaled_dot_product_attention(*t, attn_mask=keep), [q, k, v])


def test_attention_gradient_reaches_an_additive_mask(device):
    q, k, v = (rand(2, 3, 2, seed=s, device=device) for s in range(3))
    mask = rand(3, 3, seed=4, device=device)
    gradcheck(lambda m: F.scaled_dot_product_attention(q, k, v, attn_mask=m), [mask])


# ---------------------------------------------------------------------- errors
def t(*shape):
    return Tensor(np.ones(shape))


BAD = [
    (lambda: F.conv_transpose2d(t(1, 3, 4, 4), t(2, 2, 3, 3)), ValueError,
     r"conv_transpose2d: input of shape \(1, 3, 4, 4\) has 3 channels"),
    (lambda: F.conv_transpose2d(t(1, 2, 4, 4), t(2, 2, 3, 3), stride=2, output_padding=2),
     ValueError, "output_padding .* must be smaller than stride"),
    (lambda: F.conv_transpose2d(t(1, 2, 4, 4), t(2, 2, 3, 3), t(3)), ValueError,
     r"bias must have shape \(2,\)"),
    (lambda: F.conv1d(t(1, 2, 5), t(3, 2, 3, 3)), ValueError, "conv1d: need input"),
    (lambda: F.conv1d(t(1, 2, 5), t(3, 2, 3), stride=(1, 2)), TypeError, "1-tuple"),
    (lambda: F.conv2d(t(1, 1, 5, 5), t(1, 1, 3, 3), stride=2, padding="same"), ValueError,
     "padding='same' needs stride 1"),
    (lambda: F.adaptive_avg_pool2d(t(1, 1, 4, 4), 0), ValueError, "output_size"),
    (lambda: F.adaptive_avg_pool2d(t(4, 4), 2), ValueError, "4-D"),
    (lambda: F.interpolate(t(1, 1, 4, 4), size=3, scale_factor=2), ValueError,
     "exactly one of size and scale_factor"),
    (lambda: F.interpolate(t(1, 1, 4, 4), size=3, mode="bicubic"), ValueError, "mode must be"),
    (lambda: F.interpolate(t(1, 1, 4), size=3, mode="bilinear"), ValueError,
     "'bilinear' takes a 4-D"),
    (lambda: F.interpolate(t(1, 1, 4, 4), size=3, align_corners=True), ValueError,
     "align_corners only applies"),
    (lambda: F.group_norm(t(2, 6, 3), 4), ValueError, "num_groups=4 must be a positive int"),
    (lambda: F.group_norm(t(2, 6, 3), 2, t(5)), ValueError, r"weight must have shape \(6,\)"),
    (lambda: F.embedding(Tensor([1]), t(4, 2), padding_idx=4), ValueError, "padding_idx"),
    (lambda: F.scaled_dot_product_attention(t(2, 3, 4), t(2, 5, 3), t(2, 5, 4)), ValueError,
     "must agree"),
    (lambda: F.scaled_dot_product_attention(t(2, 3, 4), t(2, 5, 4), t(2, 6, 4)), ValueError,
     "must agree"),
    (lambda: F.scaled_dot_product_attention(t(2, 3, 4), t(2, 5, 4), t(2, 5, 4),
                                            attn_mask=Tensor(np.ones((3, 4), dtype=bool))),
     ValueError, r"attn_mask of shape \(3, 4\) does not broadcast .* \(2, 3, 5\)"),
    (lambda: F.scaled_dot_product_attention(t(2, 3, 4), t(2, 5, 4), t(2, 5, 4),
                                            attn_mask=t(3, 5), is_causal=True),
     ValueError, "not both"),
    (lambda: F.scaled_dot_product_attention(t(2, 3, 4), t(2, 5, 4), t(2, 5, 4),
                                            attn_mask=Tensor(np.ones((3, 5), dtype=np.int64))),
     TypeError, "bool or floating point"),
    (lambda: F.scaled_dot_product_attention(t(4), t(5, 4), t(5, 4)), ValueError,
     "at least 2 axes"),
]


@pytest.mark.parametrize("fn,exc,pattern", BAD, ids=[f"bad{i}" for i in range(len(BAD))])
def test_bad_input_raises_clearly(fn, exc, pattern):
    with pytest.raises(exc, match=pattern):
        fn()
