"""Stateless layers and losses (PyTorch's `torch.nn.functional` names and semantics).

>>> import tinygrad_nv.nn.functional as F
>>> loss = F.cross_entropy(logits, labels)        # logits (N, C) float, labels (N,) int
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from tinygrad_nv.backend.numpy_kernels import conv_out_size
from tinygrad_nv.ops.nn import CrossEntropy, Im2Col
from tinygrad_nv.tensor import Tensor

IntPair = int | tuple[int, int]
REDUCTIONS = ("mean", "sum", "none")


# ---------------------------------------------------------------------- activations
def relu(x: Tensor) -> Tensor:
    return x.relu()


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    return x.leaky_relu(negative_slope)


def sigmoid(x: Tensor) -> Tensor:
    return x.sigmoid()


def tanh(x: Tensor) -> Tensor:
    return x.tanh()


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    return x.gelu(approximate)


def silu(x: Tensor) -> Tensor:
    return x.silu()


def softplus(x: Tensor, beta: float = 1.0) -> Tensor:
    return x.softplus(beta)


def elu(x: Tensor, alpha: float = 1.0) -> Tensor:
    return x.elu(alpha)


def softmax(x: Tensor, dim: int = -1) -> Tensor:
    return x.softmax(dim)


def log_softmax(x: Tensor, dim: int = -1) -> Tensor:
    return x.log_softmax(dim)


# ---------------------------------------------------------------------- layers
def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None,
           activation: str | None = None) -> Tensor:
    """x @ weight.T + bias, weight of shape (out, in); an `activation` ('relu', 'sigmoid',
    'tanh', 'silu', 'gelu', 'gelu_tanh') runs in the same kernel as the bias."""
    return x.linear(weight, bias, activation=activation)


def conv2d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride: IntPair = 1,
           padding: IntPair = 0, dilation: IntPair = 1, groups: int = 1) -> Tensor:
    """2-D cross-correlation of x (N, C, H, W) with weight (out, C/groups, kh, kw), computed as
    im2col + one batched matrix product per group.

    >>> y = F.conv2d(x, w, b, stride=2, padding=1)
    """
    if x.ndim == 3:  # one unbatched image (C, H, W)
        return conv2d(x.unsqueeze(0), weight, bias, stride, padding, dilation, groups)[0]
    _check_image(x, "conv2d")
    if weight.ndim != 4:
        raise ValueError(f"conv2d: weight must be 4-D (out, in/groups, kh, kw), got shape "
                         f"{weight.shape}")
    if not isinstance(groups, int) or groups < 1:
        raise ValueError(f"conv2d: groups must be a positive int, got {groups!r}")
    n, c, _, _ = x.shape
    cout, cin_g, kh, kw = weight.shape
    if cout % groups:
        raise ValueError(f"conv2d: groups={groups} must divide the {cout} output channels "
                         f"(weight shape {weight.shape})")
    if c != cin_g * groups:
        raise ValueError(f"conv2d: input of shape {x.shape} has {c} channels, but weight of "
                         f"shape {weight.shape} with groups={groups} expects {cin_g * groups}")
    if bias is not None and bias.shape != (cout,):
        raise ValueError(f"conv2d: bias must have shape ({cout},), got {bias.shape}")
    geometry = _window("conv2d", x.shape, (kh, kw), stride, padding, dilation)
    oh, ow = geometry.pop("out")
    cols = Im2Col.apply(x, **geometry).reshape(n, groups, cin_g * kh * kw, oh * ow)
    out = weight.reshape(groups, cout // groups, cin_g * kh * kw) @ cols
    out = out.reshape(n, cout, oh, ow)
    return out if bias is None else out + bias.reshape(1, cout, 1, 1)


def max_pool2d(x: Tensor, kernel_size: IntPair, stride: IntPair | None = None,
               padding: IntPair = 0, dilation: IntPair = 1) -> Tensor:
    """Max over each window (padding counts as -inf); the gradient goes to the first maximum
    of each window, as in PyTorch."""
    if x.ndim == 3:
        return max_pool2d(x.unsqueeze(0), kernel_size, stride, padding, dilation)[0]
    cols, (oh, ow), _ = _pool_columns(x, "max_pool2d", kernel_size, stride, padding, dilation,
                                      pad_value=-math.inf)
    xp = x.backend.xp
    first_max = cols.data.argmax(axis=2)[:, :, None, :]
    hit = cols._like(xp.arange(cols.shape[2]).reshape(1, 1, -1, 1) == first_max)
    return hit.where(cols, 0.0).sum(2).reshape(*x.shape[:2], oh, ow)


def avg_pool2d(x: Tensor, kernel_size: IntPair, stride: IntPair | None = None,
               padding: IntPair = 0, count_include_pad: bool = True) -> Tensor:
    """Mean over each window; zero padding counts in the divisor unless
    count_include_pad=False."""
    if x.ndim == 3:
        return avg_pool2d(x.unsqueeze(0), kernel_size, stride, padding, count_include_pad)[0]
    cols, (oh, ow), geometry = _pool_columns(x, "avg_pool2d", kernel_size, stride, padding, 1,
                                             pad_value=0.0)
    total = cols.sum(2)
    if count_include_pad:
        return (total / cols.shape[2]).reshape(*x.shape[:2], oh, ow)
    ones = x.backend.xp.ones((1, 1, *x.shape[2:]), dtype=x.dtype)
    counts = x.backend.kernels.im2col(ones, **geometry).sum(axis=1)  # real pixels per window
    return (total / x._like(counts)).reshape(*x.shape[:2], oh, ow)


def dropout(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Zero each element with probability p and scale the rest by 1/(1-p) (training only)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: probability p must be in [0, 1], got {p}")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    keep = Tensor.rand(*x.shape, device=x.device) >= p
    return x * keep.where(1.0 / (1.0 - p), 0.0).cast(x.dtype)


def layer_norm(x: Tensor, normalized_shape: int | Sequence[int], weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalise over the trailing `normalized_shape` axes (biased variance), then scale and
    shift."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if not shape or x.shape[x.ndim - len(shape):] != shape or len(shape) > x.ndim:
        raise ValueError(f"layer_norm: normalized_shape {shape} must match the trailing axes "
                         f"of the input of shape {x.shape}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.shape != shape:
            raise ValueError(f"layer_norm: {name} must have shape {shape}, got {t.shape}")
    axes = tuple(range(x.ndim - len(shape), x.ndim))
    centered = x - x.mean(axes, keepdim=True)
    out = centered * ((centered * centered).mean(axes, keepdim=True) + eps).rsqrt()
    out = out if weight is None else out * weight
    return out if bias is None else out + bias


def batch_norm(x: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None,
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalise each channel (axis 1) with the batch's statistics (training) or the running
    ones (eval). In training the running statistics are updated in place, without a graph:
    running = (1 - momentum) * running + momentum * batch, with the unbiased batch variance.
    """
    if x.ndim < 2:
        raise ValueError(f"batch_norm: input must have a channel axis (N, C, ...), got shape "
                         f"{x.shape}")
    c = x.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if t is not None and t.shape != (c,):
            raise ValueError(f"batch_norm: {name} must have shape ({c},) for an input of shape "
                             f"{x.shape}, got {t.shape}")
    axes = (0, *range(2, x.ndim))
    shape = (1, c) + (1,) * (x.ndim - 2)
    if training:
        count = x.numel() // max(c, 1)
        if count <= 1:
            raise ValueError(f"batch_norm: expected more than 1 value per channel when "
                             f"training, got input of shape {x.shape}")
        mean = x.mean(axes, keepdim=True)
        centered = x - mean
        var = (centered * centered).mean(axes, keepdim=True)
        _update_running(running_mean, mean.data.reshape(c), momentum)
        _update_running(running_var, var.data.reshape(c) * (count / (count - 1)), momentum)
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: running_mean and running_var are required when "
                             "training=False")
        centered = x - running_mean.detach().cast(x.dtype).reshape(shape)
        var = running_var.detach().cast(x.dtype).reshape(shape)
    out = centered * (var + eps).rsqrt()
    out = out if weight is None else out * weight.reshape(shape)
    return out if bias is None else out + bias.reshape(shape)


def _update_running(stat: Tensor | None, batch_value, momentum: float) -> None:
    if stat is not None:
        stat.data[...] = ((1.0 - momentum) * stat.data + momentum * batch_value).astype(
            stat.dtype, copy=False)


def embedding(indices: Tensor, weight: Tensor) -> Tensor:
    """Rows of weight (num_embeddings, dim) picked by integer indices of any shape."""
    indices = _as_tensor(indices, weight)
    if indices.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers, got {indices.dtype.name}")
    if weight.ndim != 2:
        raise ValueError(f"embedding: weight must be 2-D (num_embeddings, dim), got shape "
                         f"{weight.shape}")
    n = weight.shape[0]
    if indices.numel() and (int(indices.data.min()) < 0 or int(indices.data.max()) >= n):
        raise IndexError(f"embedding: indices must be in [0, {n - 1}] for {n} embeddings, got "
                         f"values from {int(indices.data.min())} to {int(indices.data.max())}")
    return weight[indices]


# ---------------------------------------------------------------------- losses
def cross_entropy(logits: Tensor, targets: Tensor, weight: Tensor | None = None,
                  ignore_index: int = -100, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """Softmax cross-entropy of logits (N, C) or (N, C, d1, ...) with integer class targets
    (N,) or (N, d1, ...). 'mean' divides by the number of non-ignored targets (by their total
    class weight when `weight` is given); label smoothing mixes the one-hot target with the
    uniform distribution, as in PyTorch.

    >>> F.cross_entropy(Tensor([[2.0, 0.5]]), Tensor([0]))
    """
    _check_reduction(reduction, "cross_entropy")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got "
                         f"{label_smoothing}")
    rows, t, out_shape = _class_rows(logits, targets, "cross_entropy", ignore_index)
    if weight is None:
        loss = CrossEntropy.apply(rows, t, label_smoothing=float(label_smoothing),
                                  ignore_index=int(ignore_index))
        return _reduce(loss, reduction, out_shape, _valid(t, ignore_index, rows))
    logp = rows.log_softmax(-1)
    picked_weight = _picked_weight(t, weight, ignore_index, rows, "cross_entropy")
    c, weight = rows.shape[1], weight.cast(rows.dtype)
    loss = -logp[_row_index(t), _safe(t, ignore_index)] * picked_weight
    if label_smoothing:
        smooth = -(logp * weight.reshape(1, c)).sum(-1) * _valid(t, ignore_index, rows)
        loss = (1.0 - label_smoothing) * loss + (label_smoothing / c) * smooth
    return _reduce(loss, reduction, out_shape, picked_weight)


def nll_loss(log_probs: Tensor, targets: Tensor, weight: Tensor | None = None,
             ignore_index: int = -100, reduction: str = "mean") -> Tensor:
    """-log_probs[target] per sample (log_probs (N, C) or (N, C, d1, ...)), optionally
    weighted by class; 'mean' divides by the total weight of the non-ignored targets."""
    _check_reduction(reduction, "nll_loss")
    rows, t, out_shape = _class_rows(log_probs, targets, "nll_loss", ignore_index)
    picked_weight = _picked_weight(t, weight, ignore_index, rows, "nll_loss")
    loss = -rows[_row_index(t), _safe(t, ignore_index)] * picked_weight
    return _reduce(loss, reduction, out_shape, picked_weight)


def binary_cross_entropy(probs: Tensor, targets: Tensor, weight: Tensor | None = None,
                         reduction: str = "mean") -> Tensor:
    """-(y log p + (1 - y) log(1 - p)) with each log clamped at -100 (PyTorch)."""
    _check_reduction(reduction, "binary_cross_entropy")
    targets = _same_shape(probs, targets, "binary_cross_entropy")
    lo, hi = (float(probs.data.min()), float(probs.data.max())) if probs.numel() else (0, 0)
    if not (0.0 <= lo and hi <= 1.0):  # NaN fails too
        raise ValueError(f"binary_cross_entropy: input probabilities must be in [0, 1], got "
                         f"values from {lo} to {hi}; use binary_cross_entropy_with_logits for "
                         "logits")
    loss = -(targets * _clamped_log(probs) + (1 - targets) * _clamped_log(1 - probs))
    loss = loss if weight is None else loss * weight.cast(probs.dtype)
    return _reduce(loss, reduction, loss.shape, None)


def binary_cross_entropy_with_logits(logits: Tensor, targets: Tensor,
                                     weight: Tensor | None = None, reduction: str = "mean",
                                     pos_weight: Tensor | None = None) -> Tensor:
    """Sigmoid + binary cross-entropy in one stable expression:
    (1 - y) x + (1 + (pos_weight - 1) y) softplus(-x)  (= max(x,0) - x y + log1p(exp(-|x|))
    without pos_weight)."""
    _check_reduction(reduction, "binary_cross_entropy_with_logits")
    targets = _same_shape(logits, targets, "binary_cross_entropy_with_logits")
    log_weight = 1.0 if pos_weight is None else 1 + (pos_weight.cast(logits.dtype) - 1) * targets
    loss = (1 - targets) * logits + log_weight * (-logits).softplus()
    loss = loss if weight is None else loss * weight.cast(logits.dtype)
    return _reduce(loss, reduction, loss.shape, None)


def mse_loss(x: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """(x - target)^2, shapes must match exactly."""
    _check_reduction(reduction, "mse_loss")
    diff = x - _same_shape(x, target, "mse_loss")
    return _reduce(diff * diff, reduction, x.shape, None)


def l1_loss(x: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """|x - target|, shapes must match exactly."""
    _check_reduction(reduction, "l1_loss")
    return _reduce((x - _same_shape(x, target, "l1_loss")).abs(), reduction, x.shape, None)


# ---------------------------------------------------------------------- helpers
def _as_tensor(value: Any, like: Tensor) -> Tensor:
    return value if isinstance(value, Tensor) else Tensor(value, device=like.device)


def _check_reduction(reduction: str, op: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {REDUCTIONS}, got {reduction!r}")


def _reduce(loss: Tensor, reduction: str, shape: tuple, weight: Tensor | None) -> Tensor:
    """'none': loss in `shape`; 'sum'; 'mean': sum / weight.sum() (or / numel), NaN for 0."""
    if reduction == "none":
        return loss.reshape(shape)
    total = loss.sum()
    if reduction == "sum":
        return total
    denom = float(weight.data.sum()) if weight is not None else loss.numel()
    return total / denom if denom else total * math.nan


def _same_shape(x: Tensor, target: Any, op: str) -> Tensor:
    target = _as_tensor(target, x)
    if target.shape != x.shape:
        raise ValueError(f"{op}: target shape {target.shape} differs from input shape "
                         f"{x.shape}; they must match (no broadcasting)")
    if x.dtype.kind != "f" or target.dtype.kind != "f":
        raise TypeError(f"{op}: input and target must be floating point, got "
                        f"{x.dtype.name} and {target.dtype.name}")
    return target.cast(x.dtype)


def _class_rows(scores: Tensor, targets: Any, op: str, ignore_index: int):
    """(N*d..., C) score rows, flat int targets checked in range, the per-sample shape."""
    targets = _as_tensor(targets, scores)
    if scores.dtype.kind != "f":
        raise TypeError(f"{op}: input must be floating point, got {scores.dtype.name}")
    if targets.dtype.kind not in "iu":
        raise TypeError(f"{op}: targets must be integer class indices, got "
                        f"{targets.dtype.name}; convert with .long()")
    if scores.ndim == 1:
        scores = scores.unsqueeze(0)
    expected = (scores.shape[0], *scores.shape[2:])
    if targets.shape != expected and not (targets.ndim == 0 and expected == (1,)):
        raise ValueError(f"{op}: input of shape {scores.shape} needs targets of shape "
                         f"{expected}, got {targets.shape}")
    c = scores.shape[1]
    if scores.ndim > 2:  # classes last, then one row per sample
        scores = scores.permute(0, *range(2, scores.ndim), 1)
    rows, t = scores.reshape(-1, c), targets.reshape(-1)
    bad = (t.data != ignore_index) & ((t.data < 0) | (t.data >= c))
    if bool(bad.any()):
        value = int(t.data[bad.nonzero()[0][0]])
        raise IndexError(f"{op}: target {value} is out of bounds for {c} classes (valid: 0 to "
                         f"{c - 1}, or ignore_index={ignore_index})")
    return rows, t, targets.shape


def _valid(t: Tensor, ignore_index: int, like: Tensor) -> Tensor:
    return like._like((t.data != ignore_index).astype(like.dtype))


def _safe(t: Tensor, ignore_index: int) -> Tensor:
    return t._like(t.backend.xp.where(t.data != ignore_index, t.data, 0))


def _row_index(t: Tensor) -> Tensor:
    return t._like(t.backend.xp.arange(t.shape[0]))


def _picked_weight(t: Tensor, weight: Tensor | None, ignore_index: int, rows: Tensor,
                   op: str) -> Tensor:
    """The class weight of each sample's target, 0 for ignored samples."""
    valid = _valid(t, ignore_index, rows)
    if weight is None:
        return valid
    if weight.shape != (rows.shape[1],):
        raise ValueError(f"{op}: weight must have shape ({rows.shape[1]},), one per class, got "
                         f"{weight.shape}")
    return weight.cast(rows.dtype)[_safe(t, ignore_index)] * valid


def _clamped_log(p: Tensor) -> Tensor:
    """log(p) clamped at -100 (so log(0) is -100, not -inf, and no warning is raised)."""
    positive = p > 0
    return positive.where(positive.where(p, 1.0).log(), -100.0).clip(min=-100.0)


def _check_image(x: Tensor, op: str) -> None:
    if x.ndim != 4:
        raise ValueError(f"{op}: input must be 4-D (N, C, H, W) or 3-D (C, H, W), got shape "
                         f"{x.shape}")
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: input must be floating point, got {x.dtype.name}")


def _pair(value: Any, name: str, op: str) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in pair):
        raise TypeError(f"{op}: {name} must be an int or a pair of ints, got {value!r}")
    return pair


def _window(op: str, shape: tuple, kernel: tuple, stride: Any, padding: Any,
            dilation: Any) -> dict:
    """Validated im2col geometry for an (N, C, H, W) input, plus the output size 'out'."""
    stride, padding = _pair(stride, "stride", op), _pair(padding, "padding", op)
    dilation = _pair(dilation, "dilation", op)
    if min(kernel) < 1 or min(stride) < 1 or min(dilation) < 1 or min(padding) < 0:
        raise ValueError(f"{op}: need kernel_size, stride, dilation >= 1 and padding >= 0, "
                         f"got kernel {kernel}, stride {stride}, padding {padding}, dilation "
                         f"{dilation}")
    out = tuple(conv_out_size(size, k, s, p, d) for size, k, s, p, d in
                zip(shape[2:], kernel, stride, padding, dilation, strict=True))
    if min(out) < 1:
        raise ValueError(f"{op}: the {kernel[0]}x{kernel[1]} kernel (dilation {dilation}) is "
                         f"larger than the padded input: input {shape}, padding {padding}")
    return dict(kernel=kernel, stride=stride, padding=padding, dilation=dilation, out=out)


def _pool_columns(x: Tensor, op: str, kernel_size: Any, stride: Any, padding: Any,
                  dilation: Any, pad_value: float):
    """Windows of x as (N, C, kh*kw, OH*OW) (padding filled with pad_value), the output size
    and the im2col geometry used."""
    _check_image(x, op)
    kernel = _pair(kernel_size, "kernel_size", op)
    geometry = _window(op, x.shape, kernel, kernel if stride is None else stride, padding,
                       dilation)
    (ph, pw), out = geometry["padding"], geometry.pop("out")
    cols_geometry = dict(geometry)
    if ph > kernel[0] // 2 or pw > kernel[1] // 2:
        raise ValueError(f"{op}: padding {(ph, pw)} must be at most half the kernel size "
                         f"{kernel}")
    if (ph or pw) and pad_value != 0.0:
        x = x.pad(((0, 0), (0, 0), (ph, ph), (pw, pw)), value=pad_value)
        cols_geometry["padding"] = (0, 0)
    n, c = x.shape[:2]
    cols = Im2Col.apply(x, **cols_geometry).reshape(n, c, kernel[0] * kernel[1],
                                                    out[0] * out[1])
    return cols, out, geometry
