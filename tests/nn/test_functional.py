"""nn.functional: every layer and loss against a NumPy reference written here, gradients
against finite differences in float64, PyTorch's edge semantics, and clear errors."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hst

import tinygrad_nv.nn.functional as F
from tests.helpers import check_op
from tinygrad_nv import Tensor, nn
from tinygrad_nv.ops.loss import REDUCTIONS
from tinygrad_nv.testing import gradcheck, gradgradcheck


def rand(*shape, seed=0, scale=1.0, device=None):
    return Tensor(np.random.default_rng(seed).standard_normal(shape) * scale, device=device)


# ---------------------------------------------------------------------- references
def conv2d_ref(x, w, b, stride, padding, dilation, groups):
    n, c, h, wd = x.shape
    cout, cin_g, kh, kw = w.shape
    padded = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    oh = (h + 2 * padding - dilation * (kh - 1) - 1) // stride + 1
    ow = (wd + 2 * padding - dilation * (kw - 1) - 1) // stride + 1
    out = np.zeros((n, cout, oh, ow))
    per_group = cout // groups
    for o, y, x_ in np.ndindex(cout, oh, ow):
        g = o // per_group
        window = padded[:, g * cin_g:(g + 1) * cin_g,
                        y * stride:y * stride + dilation * (kh - 1) + 1:dilation,
                        x_ * stride:x_ * stride + dilation * (kw - 1) + 1:dilation]
        out[:, o, y, x_] = (window * w[o]).sum(axis=(1, 2, 3))
    return out if b is None else out + b.reshape(1, -1, 1, 1)


def pool_ref(x, k, stride, padding, dilation, reduce, fill):
    n, c, h, w = x.shape
    padded = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)),
                    constant_values=fill)
    oh = (h + 2 * padding - dilation * (k - 1) - 1) // stride + 1
    ow = (w + 2 * padding - dilation * (k - 1) - 1) // stride + 1
    out = np.zeros((n, c, oh, ow))
    for y, x_ in np.ndindex(oh, ow):
        window = padded[:, :, y * stride:y * stride + dilation * (k - 1) + 1:dilation,
                        x_ * stride:x_ * stride + dilation * (k - 1) + 1:dilation]
        out[:, :, y, x_] = reduce(window, axis=(2, 3))
    return out


def log_softmax_ref(a):
    shifted = a - a.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def cross_entropy_ref(logits, t, weight, ignore_index, reduction, smoothing):
    logp = log_softmax_ref(logits)
    n, c = logits.shape
    w = np.ones(c) if weight is None else weight
    valid = t != ignore_index
    safe = np.where(valid, t, 0)
    nll = -logp[np.arange(n), safe] * w[safe] * valid
    smooth = -(logp * w).sum(axis=1) * valid
    loss = (1 - smoothing) * nll + smoothing / c * smooth
    if reduction == "none":
        return loss
    return loss.sum() if reduction == "sum" else loss.sum() / (w[safe] * valid).sum()


# ---------------------------------------------------------------------- layers
@hst.composite
def conv_cases(draw):
    groups, stride, padding, dilation = (draw(hst.integers(1, 2)), draw(hst.integers(1, 2)),
                                         draw(hst.integers(0, 1)), draw(hst.integers(1, 2)))
    cin_g, cout_g, k = draw(hst.integers(1, 2)), draw(hst.integers(1, 2)), draw(hst.integers(1, 3))
    side = max(1, dilation * (k - 1) + 1 - 2 * padding) + draw(hst.integers(0, 2))
    return (draw(hst.integers(1, 2)), groups * cin_g, side, groups * cout_g, cin_g, k, stride,
            padding, dilation, groups, draw(hst.booleans()))


@settings(max_examples=12)
@given(case=conv_cases())
def test_conv2d(case, device):
    n, c, side, cout, cin_g, k, stride, padding, dilation, groups, with_bias = case
    x, w = rand(n, c, side, side + 1, seed=1, device=device), rand(cout, cin_g, k, k, seed=2,
                                                                    device=device)
    b = rand(cout, seed=3, device=device) if with_bias else None
    check_op(lambda *t: F.conv2d(t[0], t[1], t[2] if with_bias else None, stride, padding,
                                 dilation, groups),
             lambda *a: conv2d_ref(a[0], a[1], a[2] if with_bias else None, stride, padding,
                                   dilation, groups),
             *([x, w, b] if with_bias else [x, w]), gradgrad=False)


def test_conv2d_double_backward_and_unbatched_input(device):
    x, w, b = rand(1, 2, 4, 3, device=device), rand(4, 1, 2, 2, seed=1, device=device), \
        rand(4, seed=2, device=device)
    gradgradcheck(lambda *t: F.conv2d(*t, stride=1, padding=1, groups=2), [x, w, b])
    np.testing.assert_allclose(F.conv2d(x[0], w, b, groups=2).numpy(),
                               F.conv2d(x, w, b, groups=2)[0].numpy())


@settings(max_examples=12)
@given(k=hst.integers(1, 3), stride=hst.integers(1, 3), dilation=hst.integers(1, 2),
       side=hst.integers(0, 3), pad=hst.booleans())
def test_max_pool2d(k, stride, dilation, side, pad, device):
    padding = k // 2 if pad else 0
    side += max(dilation, dilation * (k - 1) + 1 - 2 * padding)  # no window of padding only
    x = rand(2, 2, side, side + 1, seed=side, device=device)
    check_op(lambda t: F.max_pool2d(t, k, stride, padding, dilation),
             lambda a: pool_ref(a, k, stride, padding, dilation, np.max, -np.inf), x)


@settings(max_examples=12)
@given(k=hst.integers(1, 3), stride=hst.none() | hst.integers(1, 2), side=hst.integers(0, 3),
       pad=hst.booleans(), include=hst.booleans())
def test_avg_pool2d(k, stride, side, pad, include, device):
    padding = k // 2 if pad else 0
    side += max(1, k - 2 * padding)
    x = rand(2, 2, side, side + 1, seed=side, device=device)
    ones = np.ones((1, 1, side, side + 1))
    s = k if stride is None else stride
    counts = pool_ref(ones, k, s, padding, 1, np.sum, 0.0) if not include else k * k
    check_op(lambda t: F.avg_pool2d(t, k, stride, padding, count_include_pad=include),
             lambda a: pool_ref(a, k, s, padding, 1, np.sum, 0.0) / counts, x)


def test_max_pool2d_gradient_goes_to_the_first_maximum(device):
    x = Tensor(np.zeros((1, 1, 4, 4)), device=device, requires_grad=True)  # all tied
    F.max_pool2d(x, 2).sum().backward()
    expected = np.zeros((4, 4))
    expected[::2, ::2] = 1.0
    np.testing.assert_array_equal(x.grad.numpy()[0, 0], expected)


def test_linear(device):
    x, w, b = rand(3, 4, device=device), rand(2, 4, seed=1, device=device), \
        rand(2, seed=2, device=device)
    check_op(F.linear, lambda a, wa, ba: a @ wa.T + ba, x, w, b)


@pytest.mark.parametrize("shape", [4, (3, 4)])
def test_layer_norm(shape, device):
    x = rand(2, 3, 4, scale=2.0, device=device)
    nshape = (shape,) if isinstance(shape, int) else shape
    w, b = rand(*nshape, seed=1, device=device), rand(*nshape, seed=2, device=device)
    axes = tuple(range(3 - len(nshape), 3))

    def ref(a, wa, ba):
        mean, var = a.mean(axis=axes, keepdims=True), a.var(axis=axes, keepdims=True)
        return (a - mean) / np.sqrt(var + 1e-5) * wa + ba

    check_op(lambda *t: F.layer_norm(t[0], shape, t[1], t[2]), ref, x, w, b, atol=1e-5)


def test_norms_of_a_constant_row(device):
    """Zero spread: the output is the bias and the input gradient (w - mean(w)) / sqrt(eps)
    (by hand: x - mean is 0, so only the mean's and the centring's terms are left), finite,
    as PyTorch."""
    w = np.array([1.0, 2.0, 3.0, 6.0])
    x = Tensor(np.full((2, 4), 2.5), device=device, requires_grad=True)
    out = F.layer_norm(x, (4,), Tensor(w, device=device), Tensor(w / 2, device=device))
    out.sum().backward()
    np.testing.assert_allclose(out.numpy(), np.tile(w / 2, (2, 1)))
    np.testing.assert_allclose(x.grad.numpy(), np.tile((w - w.mean()) / np.sqrt(1e-5), (2, 1)),
                               rtol=1e-12)
    scale = Tensor(np.arange(24.0).reshape(2, 4, 3), device=device)
    for norm in (lambda t: F.layer_norm(t, (4, 3), eps=1e-3) * scale,
                 lambda t: F.group_norm(t, 2) * scale,
                 lambda t: F.batch_norm(t, None, None, training=True) * scale):
        gradcheck(norm, [Tensor(np.full((2, 4, 3), -1.5), device=device, requires_grad=True)])
    torch = pytest.importorskip("torch")
    tx = torch.full((2, 4), 2.5, dtype=torch.float64, requires_grad=True)
    torch.nn.functional.layer_norm(tx, (4,), torch.tensor(w), torch.tensor(w / 2)).sum() \
        .backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12)


def batch_norm_ref(a, mean, var, w, b, eps=1e-5):
    shape = (1, -1) + (1,) * (a.ndim - 2)
    return (a - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps) * w.reshape(shape) \
        + b.reshape(shape)


@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 2), (2, 3, 2, 2)])
def test_batch_norm_training_and_running_stats(shape, device):
    x = rand(*shape, scale=2.0, device=device)
    w, b = rand(3, seed=1, device=device), rand(3, seed=2, device=device)
    axes = (0, *range(2, len(shape)))
    a = x.numpy()
    mean, var = a.mean(axis=axes), a.var(axis=axes)
    check_op(lambda *t: F.batch_norm(t[0], None, None, t[1], t[2], training=True),
             lambda *arr: batch_norm_ref(arr[0], mean, var, arr[1], arr[2]), x, w, b,
             atol=1e-5, gradgrad=False)
    running_mean = Tensor(np.full(3, 0.5), device=device)
    running_var = Tensor(np.full(3, 2.0), device=device)
    F.batch_norm(x, running_mean, running_var, training=True, momentum=0.2)
    count = a.size // 3
    np.testing.assert_allclose(running_mean.numpy(), 0.8 * 0.5 + 0.2 * mean)
    np.testing.assert_allclose(running_var.numpy(), 0.8 * 2.0 + 0.2 * var * count / (count - 1))


@pytest.mark.parametrize("affine", ["both", "weight", "bias", "none"])
@pytest.mark.parametrize("shape", [(6, 2), (3, 2, 5), (2, 2, 3, 2)])
def test_batch_norm_training_gradients_of_every_input(shape, affine, device):
    """The fused training Function: values, gradients and second derivatives of x and of
    whichever affine parameters it has, against finite differences in float64."""
    x = rand(*shape, scale=2.0, device=device)
    w = rand(2, seed=1, device=device) if affine in ("both", "weight") else None
    b = rand(2, seed=2, device=device) if affine in ("both", "bias") else None
    axes = (0, *range(2, len(shape)))
    a = x.numpy()
    mean, var = a.mean(axis=axes), a.var(axis=axes)
    given = [t for t in (w, b) if t is not None]

    def fn(x, *t):
        return F.batch_norm(x, None, None, t[0] if w is not None else None,
                            t[-1] if b is not None else None, training=True)

    def reference(arr, *t):
        return batch_norm_ref(arr, mean, var, t[0] if w is not None else np.ones(2),
                              t[-1] if b is not None else np.zeros(2))
    check_op(fn, reference, x, *given, atol=1e-5)


def test_batch_norm_eval_uses_running_stats(device):
    x, w, b = rand(4, 3, 2, device=device), rand(3, seed=1, device=device), \
        rand(3, seed=2, device=device)
    rm, rv = np.array([0.1, -0.2, 0.3]), np.array([1.5, 0.5, 2.0])
    running_mean, running_var = Tensor(rm, device=device), Tensor(rv, device=device)
    check_op(lambda *t: F.batch_norm(t[0], running_mean, running_var, t[1], t[2]),
             lambda *a: batch_norm_ref(a[0], rm, rv, a[1], a[2]), x, w, b)
    np.testing.assert_array_equal(running_mean.numpy(), rm)  # untouched in eval


def test_batch_norm_update_records_no_graph(device):
    x = rand(4, 3, device=device)
    x.requires_grad_()
    running_mean = Tensor(np.zeros(3), device=device)
    F.batch_norm(x, running_mean, Tensor(np.ones(3), device=device), training=True)
    assert not running_mean.requires_grad and running_mean.is_leaf


def test_dropout(device):
    x = Tensor(np.ones((200, 50)), device=device, requires_grad=True)
    y = F.dropout(x, 0.3)
    values = y.numpy()
    assert set(np.unique(values).round(6)) <= {0.0, round(1 / 0.7, 6)}
    assert abs((values == 0).mean() - 0.3) < 0.02
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), values)  # the same mask scales the gradient
    assert F.dropout(x, 0.3, training=False) is x
    assert F.dropout(x, 0.0) is x
    np.testing.assert_array_equal(F.dropout(x, 1.0).numpy(), 0.0)


def test_dropout_is_reproducible_with_manual_seed(device):
    x = Tensor(np.ones(100), device=device)
    Tensor.manual_seed(3)
    a = F.dropout(x).numpy()
    Tensor.manual_seed(3)
    np.testing.assert_array_equal(a, F.dropout(x).numpy())


def test_embedding(device):
    w = rand(5, 3, device=device)
    idx = Tensor(np.array([[0, 4], [4, 2]]), device=device)
    check_op(lambda t: F.embedding(idx, t), lambda a: a[idx.numpy()], w)
    wg = Tensor(w.numpy(), device=device, requires_grad=True)
    F.embedding(idx, wg).sum().backward()
    np.testing.assert_array_equal(wg.grad.numpy()[:, 0], [1, 0, 1, 0, 2])  # repeats add up


# ---------------------------------------------------------------------- losses
@settings(max_examples=20)
@given(n=hst.integers(1, 4), c=hst.integers(1, 4), reduction=hst.sampled_from(REDUCTIONS),
       smoothing=hst.sampled_from([0.0, 0.3]), weighted=hst.booleans(),
       seed=hst.integers(0, 1000))
def test_cross_entropy(n, c, reduction, smoothing, weighted, seed, device):
    rng = np.random.default_rng(seed)
    logits = Tensor(rng.standard_normal((n, c)) * 2, device=device)
    t = rng.integers(0, c, n)
    t[0] = 0  # at least one target is not ignored
    t[1:][rng.random(n - 1) < 0.3] = -100
    weight = rng.random(c) + 0.5 if weighted else None
    wt = None if weight is None else Tensor(weight, device=device)
    check_op(lambda x: F.cross_entropy(x, Tensor(t, device=device), wt, reduction=reduction,
                                       label_smoothing=smoothing),
             lambda a: cross_entropy_ref(a, t, weight, -100, reduction, smoothing), logits)


def test_cross_entropy_with_spatial_axes(device):
    rng = np.random.default_rng(0)
    logits = Tensor(rng.standard_normal((2, 3, 4, 2)), device=device)
    t = rng.integers(0, 3, (2, 4, 2))
    rows = logits.numpy().transpose(0, 2, 3, 1).reshape(-1, 3)
    check_op(lambda x: F.cross_entropy(x, Tensor(t, device=device), reduction="none"),
             lambda a: cross_entropy_ref(rows, t.reshape(-1), None, -100, "none", 0.0)
             .reshape(2, 4, 2), logits)


def test_cross_entropy_all_ignored_is_nan_and_huge_logits_are_finite(device):
    x = Tensor([[1.0, 2.0]], device=device)
    assert math.isnan(F.cross_entropy(x, Tensor([-100], device=device)).item())
    big = Tensor([[1000.0, -1000.0]], device=device)
    assert F.cross_entropy(big, Tensor([1], device=device)).item() == pytest.approx(2000.0)


@pytest.mark.parametrize("weighted", [False, True])
def test_nll_loss(weighted, device):
    rng = np.random.default_rng(0)
    logp = Tensor(log_softmax_ref(rng.standard_normal((5, 3))), device=device)
    t = np.array([0, 2, -100, 1, 2])
    weight = rng.random(3) + 0.5 if weighted else None
    wt = None if weight is None else Tensor(weight, device=device)
    w = np.ones(3) if weight is None else weight
    valid = t != -100

    def ref(a):
        picked = -a[np.arange(5), np.where(valid, t, 0)] * w[np.where(valid, t, 0)] * valid
        return picked.sum() / (w[np.where(valid, t, 0)] * valid).sum()

    check_op(lambda x: F.nll_loss(x, Tensor(t, device=device), wt), ref, logp)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy(reduction, device):
    rng = np.random.default_rng(0)
    p = Tensor(rng.uniform(0.05, 0.95, (3, 4)), device=device)
    y = Tensor(rng.random((3, 4)), device=device)
    reduce = {"mean": np.mean, "sum": np.sum, "none": lambda v: v}[reduction]
    check_op(lambda a, b: F.binary_cross_entropy(a, b, reduction=reduction),
             lambda a, b: reduce(-(b * np.log(a) + (1 - b) * np.log(1 - a))), p, y)


def test_binary_cross_entropy_clamps_the_log_at_minus_100(device):
    p, y = Tensor([0.0, 1.0], device=device), Tensor([1.0, 0.0], device=device)
    np.testing.assert_array_equal(F.binary_cross_entropy(p, y, reduction="none").numpy(),
                                  [100.0, 100.0])


@pytest.mark.parametrize("pos_weight", [False, True])
def test_binary_cross_entropy_with_logits(pos_weight, device):
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((3, 4)) * 4, device=device)
    y = Tensor(rng.random((3, 4)), device=device)
    pw = rng.random(4) * 3 if pos_weight else np.ones(4)
    pwt = Tensor(pw, device=device) if pos_weight else None

    def ref(a, b):
        sig = 1 / (1 + np.exp(-a))
        return np.mean(-(pw * b * np.log(sig) + (1 - b) * np.log(1 - sig)))

    check_op(lambda a, b: F.binary_cross_entropy_with_logits(a, b, pos_weight=pwt), ref, x, y)


def test_binary_cross_entropy_with_logits_is_stable(device):
    x = Tensor([-200.0, 200.0, 0.0], device=device, requires_grad=True)
    y = Tensor([1.0, 0.0, 1.0], device=device)
    loss = F.binary_cross_entropy_with_logits(x, y, reduction="none")
    np.testing.assert_allclose(loss.numpy(), [200.0, 200.0, math.log(2)], rtol=1e-6)
    loss.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [-1.0, 1.0, -0.5], rtol=1e-6)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_mse_and_l1(reduction, device):
    x, y = rand(3, 4, device=device), rand(3, 4, seed=1, device=device)
    reduce = {"mean": np.mean, "sum": np.sum, "none": lambda v: v}[reduction]
    check_op(lambda a, b: F.mse_loss(a, b, reduction=reduction),
             lambda a, b: reduce((a - b) ** 2), x, y)
    check_op(lambda a, b: F.l1_loss(a, b, reduction=reduction),
             lambda a, b: reduce(np.abs(a - b)), x, y)


def test_loss_gradients_reach_the_targets(device):
    x, y = rand(2, 3, device=device), Tensor(np.random.default_rng(1).random((2, 3)),
                                             device=device)
    gradcheck(lambda a, b: F.binary_cross_entropy_with_logits(a, b), [x, y])
    gradcheck(lambda a, b: F.mse_loss(a, b), [x, y])


def test_activations_are_reexported(device):
    x = rand(2, 3, device=device)
    for name in ("relu", "sigmoid", "tanh", "gelu", "silu", "softplus", "elu", "leaky_relu",
                 "softmax", "log_softmax"):
        np.testing.assert_array_equal(getattr(F, name)(x).numpy(), getattr(x, name)().numpy())


# ---------------------------------------------------------------------- bad input
# on the CPU, where bad targets raise (elsewhere they give NaN: test_losses.py)
def t(*shape):
    return Tensor(np.ones(shape), device="cpu")


def labels(*values):
    return Tensor(np.array(values), device="cpu")


BAD = [
    (lambda: F.cross_entropy(t(2, 3), labels(0, 3)), IndexError,
     r"cross_entropy: target 3 is out of bounds for 3 classes"),
    (lambda: F.cross_entropy(t(2, 3), labels(0, -2)), IndexError, "target -2"),
    (lambda: F.cross_entropy(t(2, 3), Tensor([0.0, 1.0], device="cpu")), ValueError,
     r"integer class indices or probabilities of the logits' shape \(2, 3\), got float32"),
    (lambda: F.cross_entropy(t(2, 3), labels(0, 1, 2)), ValueError,
     r"input of shape \(2, 3\) needs targets of shape \(2,\), got \(3,\)"),
    (lambda: F.cross_entropy(t(2, 3), labels(0, 1), reduction="avg"), ValueError,
     "reduction must be one of"),
    (lambda: F.cross_entropy(t(2, 3), labels(0, 1), label_smoothing=1.5), ValueError,
     "label_smoothing must be in"),
    (lambda: F.cross_entropy(t(2, 3), labels(0, 1), weight=t(2)), ValueError,
     r"weight must have shape \(3,\)"),
    (lambda: F.nll_loss(t(2, 3), labels(5, 0)), IndexError, "nll_loss: target 5"),
    (lambda: F.mse_loss(t(2, 3), t(4)), ValueError, r"\(2, 3\).*\(4,\)"),
    (lambda: F.l1_loss(t(2, 3), t(2, 2)), ValueError, r"\(2, 3\).*\(2, 2\)"),
    (lambda: F.binary_cross_entropy(t(2) * 1.5, t(2)), ValueError,
     r"probabilities must be in \[0, 1\], got values from 1.5"),
    (lambda: F.binary_cross_entropy(t(2), labels(1, 0)), TypeError, "floating point"),
    (lambda: F.binary_cross_entropy_with_logits(t(2), t(3)), ValueError, "target shape"),
    (lambda: F.conv2d(t(1, 3, 5, 5), t(4, 2, 3, 3)), ValueError,
     r"3 channels, but weight of shape \(4, 2, 3, 3\) with groups=1 expects 2"),
    (lambda: F.conv2d(t(1, 4, 5, 5), t(3, 2, 3, 3), groups=2), ValueError,
     "groups=2 must divide the 4 input and 3 output channels"),
    (lambda: F.conv2d(t(1, 2, 5, 5), t(4, 2, 3, 3), groups=0), ValueError,
     "groups must be a positive int"),
    (lambda: F.conv2d(t(1, 1, 2, 2), t(1, 1, 3, 3)), ValueError,
     "kernel .* is larger than the padded input"),
    (lambda: F.conv2d(t(1, 1, 5, 5), t(1, 1, 3, 3), stride=0), ValueError, "stride"),
    (lambda: F.conv2d(t(5, 5), t(1, 1, 3, 3)), ValueError, r"4-D \(N, C, H, W\)"),
    (lambda: F.conv2d(t(1, 1, 5, 5), t(1, 1, 3, 3), t(2)), ValueError,
     r"bias must have shape \(1,\)"),
    (lambda: F.conv2d(t(1, 1, 5, 5), t(1, 1, 3, 3), padding="full"), ValueError,
     "padding must be an int, a pair, 'valid' or 'same'"),
    (lambda: F.conv2d(t(1, 1, 5, 5), t(1, 1, 3, 3), padding=(1, 2, 3)), TypeError,
     "padding must be an int or a pair"),
    (lambda: F.max_pool2d(t(1, 1, 4, 4), 2, padding=2), ValueError,
     "at most half the kernel size"),
    (lambda: F.avg_pool2d(t(1, 1, 2, 2), 3), ValueError, "larger than the padded input"),
    (lambda: F.max_pool2d(t(1, 1, 4, 4).long(), 2), TypeError,
     "floating point"),
    (lambda: F.dropout(t(3), p=1.5), ValueError, r"dropout: probability p must be in \[0, 1\]"),
    (lambda: F.layer_norm(t(2, 3), 4), ValueError,
     r"normalized_shape \(4,\) must match the trailing axes"),
    (lambda: F.batch_norm(t(1, 3), None, None, training=True), ValueError,
     "more than 1 value per channel"),
    (lambda: F.batch_norm(t(2, 3), t(4), t(3)), ValueError,
     r"running_mean must have shape \(3,\)"),
    (lambda: F.batch_norm(t(2, 3), None, None), ValueError, "required when training=False"),
    (lambda: F.embedding(labels(0, 5), t(5, 2)), IndexError,
     r"embedding: indices must be in \[0, 4\] for 5 embeddings"),
    (lambda: F.embedding(Tensor([0.0], device="cpu"), t(5, 2)), TypeError,
     "indices must be integers"),
]


@pytest.mark.parametrize("fn,exc,pattern", BAD, ids=[f"bad{i}" for i in range(len(BAD))])
def test_bad_input_raises_clearly(fn, exc, pattern):
    with pytest.raises(exc, match=pattern):
        fn()


def test_every_functional_name_is_its_kinds_table_entry():
    """nn.functional holds no wrappers: each name is bound from an ops kind's table."""
    from tinygrad_nv.nn import functional
    for kind in functional._KINDS:
        for name, fn in kind.EXPORTS.functional.items():
            bound = getattr(F, name)
            assert getattr(bound, "__wrapped__", bound) in (fn, getattr(fn, "__wrapped__", fn))


@pytest.mark.parametrize("name, args", [("relu", ()), ("leaky_relu", (0.2,)),
                                        ("hardtanh", (-0.5, 0.5)), ("elu", (1.0,)),
                                        ("selu", ()), ("silu", ()), ("dropout", (0.0, True))])
def test_inplace_flag_writes_back_and_refuses_a_leaf_that_requires_grad(name, args):
    torch = pytest.importorskip("torch")
    data = np.array([[-1.5, -0.2, 0.3, 2.0]], np.float32)
    x = Tensor(data.copy())
    out = getattr(F, name)(x, *args, inplace=True)
    theirs = getattr(torch.nn.functional, name)(torch.tensor(data), *args)
    assert out is x
    np.testing.assert_allclose(x.numpy(), theirs.numpy(), rtol=1e-6)
    positional = Tensor(data.copy())
    assert getattr(F, name)(positional, *args, True) is positional  # PyTorch's positional flag
    if name == "dropout":  # p=0: x itself, as PyTorch
        return
    leaf = Tensor(data.copy(), requires_grad=True)  # as PyTorch's
    with pytest.raises(RuntimeError, match=f"{name}_: a leaf tensor that requires grad"):
        getattr(F, name)(leaf, *args, inplace=True)


def test_softmax_dtype_and_softplus_threshold_as_torch():
    torch = pytest.importorskip("torch")
    data = np.array([[0.5, 3.0, -2.0], [10.0, 0.0, 1.0]], np.float32)
    x, t = Tensor(data), torch.tensor(data)
    for fn in ("softmax", "log_softmax", "softmin"):
        ours = getattr(F, fn)(x, 1, dtype=np.float64)
        assert ours.dtype == np.float64
        np.testing.assert_allclose(ours.numpy(), getattr(torch.nn.functional, fn)(
            t, 1, dtype=torch.float64).numpy(), rtol=1e-12)
    for beta, threshold in ((1.0, 20.0), (2.0, 1.5), (0.5, 0.25)):
        np.testing.assert_allclose(F.softplus(x, beta, threshold).numpy(),
                                   torch.nn.functional.softplus(t, beta, threshold).numpy(),
                                   rtol=1e-6)


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss"])
def test_regression_losses_broadcast_a_target_with_pytorchs_warning(name):
    torch = pytest.importorskip("torch")
    a = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    b = np.random.default_rng(1).standard_normal((4, 1)).astype(np.float32)
    with pytest.warns(UserWarning, match="different to the input size"):
        ours = getattr(F, name)(Tensor(a), Tensor(b))
    with pytest.warns(UserWarning):
        theirs = getattr(torch.nn.functional, name)(torch.tensor(a), torch.tensor(b))
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "huber_loss"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_elementwise_loss_weights_as_torch(name, reduction):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    a, b, w = (rng.standard_normal((3, 4)) for _ in range(3))
    w = np.abs(w)
    ours = getattr(F, name)(Tensor(a), Tensor(b), reduction=reduction, weight=Tensor(w))
    theirs = getattr(torch.nn.functional, name)(torch.tensor(a), torch.tensor(b),
                                                 reduction=reduction, weight=torch.tensor(w))
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)
    with pytest.raises(ValueError, match="same size"):
        getattr(F, name)(Tensor(a), Tensor(b), weight=Tensor(w[:, :2]))


@pytest.mark.parametrize("size_average, reduce", [(None, False), (False, None), (True, True),
                                                  (False, True)])
def test_legacy_size_average_and_reduce_as_torch(size_average, reduce):
    """PyTorch's positional order (size_average before reduction) and its legacy pair, in
    the functions and the modules."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    logits, labels = rng.standard_normal((5, 4)), rng.integers(0, 4, 5)
    x, y = rng.standard_normal((5, 4)), rng.standard_normal((5, 4))
    pairs = [
        (F.cross_entropy(Tensor(logits), Tensor(labels), None, size_average, -100, reduce),
         torch.nn.functional.cross_entropy(torch.tensor(logits), torch.tensor(labels), None,
                                           size_average, -100, reduce)),
        (F.mse_loss(Tensor(x), Tensor(y), size_average, reduce),
         torch.nn.functional.mse_loss(torch.tensor(x), torch.tensor(y), size_average, reduce)),
        (nn.L1Loss(size_average, reduce)(Tensor(x), Tensor(y)),
         torch.nn.L1Loss(size_average, reduce)(torch.tensor(x), torch.tensor(y))),
        (nn.NLLLoss(None, size_average, -100, reduce)(Tensor(logits), Tensor(labels)),
         torch.nn.NLLLoss(None, size_average, -100, reduce)(torch.tensor(logits),
                                                            torch.tensor(labels))),
    ]
    for ours, theirs in pairs:
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)


def test_losses_take_pytorchs_keyword_names():
    torch = pytest.importorskip("torch")
    logits, labels = np.random.default_rng(4).standard_normal((3, 5)), np.array([0, 4, 2])
    ours = F.cross_entropy(input=Tensor(logits), target=Tensor(labels), label_smoothing=0.1)
    theirs = torch.nn.functional.cross_entropy(input=torch.tensor(logits),
                                               target=torch.tensor(labels), label_smoothing=0.1)
    np.testing.assert_allclose(ours.item(), theirs.item(), rtol=1e-12)

