"""The loss functions of `nn.functional` (PyTorch's names, arguments and reductions), and the
softmax cross-entropy Functions (one fused kernel each way). Each computes in float32 for
float16 inputs and returns their dtype (as PyTorch).

No loss reads device data back to the host: 'mean' divides by a device tensor, and targets
out of range are refused on the CPU (where checking is free) and give a NaN loss elsewhere,
as PyTorch does on a GPU.
"""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING, Any

from tinygrad_nv.autograd import Function
from tinygrad_nv.autograd.autocast_state import autocast_op
from tinygrad_nv.autograd.function import constant
from tinygrad_nv.dtype import is_floating
from tinygrad_nv.ops import Exports
from tinygrad_nv.ops._checks import ShapeError, is_tensor
from tinygrad_nv.ops._loss import REDUCTIONS, reduction_of
from tinygrad_nv.ops.reduce import in_accumulation_dtype

if TYPE_CHECKING:
    from tinygrad_nv._tensor import Tensor

class CrossEntropy(Function):
    """Per-row loss of (N, C) logits against int targets, or with `mean` their mean over the
    rows not ignored; d loss_row / d logits comes from the same kernel launch and is kept for
    backward (with the mean's scale, 1 / the number of rows it counts)."""

    def forward(self, logits, targets, label_smoothing: float, ignore_index: int,
                mean: bool = False):
        self.label_smoothing, self.ignore_index = label_smoothing, ignore_index
        loss, self.dlogits, self.scale = self.kernels.cross_entropy(
            logits, targets, label_smoothing, ignore_index, mean)
        return loss

    def backward(self, g):
        logits, targets = self.parents
        return CrossEntropyGrad.apply(logits, g, targets, dlogits=self.dlogits, scale=self.scale,
                                      label_smoothing=self.label_smoothing,
                                      ignore_index=self.ignore_index), None


class CrossEntropyGrad(Function):
    """dlogits * g[:, None], or dlogits * (g * scale) for the mean (g 0-d); dlogits =
    (softmax(logits) - q) * valid, q the (smoothed) one-hot target. Its backward (only for
    double backward) is written with Tensor operations."""

    def forward(self, logits, g, targets, dlogits, scale, label_smoothing: float,
                ignore_index: int):
        self.label_smoothing, self.ignore_index, self.scale = label_smoothing, ignore_index, scale
        return self.kernels.cross_entropy_backward(dlogits, g, scale)

    def backward(self, gg):
        logits, g, targets = self.parents
        xp = self.xp
        n, c = logits.shape
        valid = targets._data != self.ignore_index
        q = xp.full((n, c), self.label_smoothing / c, dtype=logits.dtype)
        q[xp.arange(n), xp.where(valid, targets._data, 0)] += 1.0 - self.label_smoothing
        mask = logits._like(valid[:, None].astype(logits.dtype))
        s = logits.softmax(-1)
        scale = None if self.scale is None else logits._like(self.scale)  # (1,): the mean's
        g_logits = g_g = None
        if self.needs_input_grad[0]:  # the softmax Jacobian (symmetric) applied to gg
            v = gg * ((g.reshape(n, 1) if scale is None else g * scale) * mask)
            g_logits = s * (v - (v * s).sum(-1, keepdim=True))
        if self.needs_input_grad[1]:
            g_g = (gg * (s - logits._like(q)) * mask).sum(-1)
            g_g = g_g if scale is None else (g_g * scale).sum()
        return g_logits, g_g, None



@autocast_op
def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                  size_average: bool | None = None, ignore_index: int = -100,
                  reduce: bool | None = None, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """Softmax cross-entropy of logits (N, C) or (N, C, d1, ...) with integer class targets
    (N,) or (N, d1, ...), or with class probabilities of the logits' shape. 'mean' divides by
    the number of non-ignored targets (by their total class weight when `weight` is given; by
    the number of samples for probabilities); label smoothing mixes the target with the
    uniform distribution, as in PyTorch. float16/bfloat16 logits give a loss of their dtype,
    computed in float32.

    >>> F.cross_entropy(Tensor([[2.0, 0.5]]), Tensor([0]))
    """
    logits, targets = input, target
    reduction = reduction_of(reduction, "cross_entropy", size_average, reduce)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got "
                         f"{label_smoothing}")
    targets = _as_tensor(targets, logits)
    _check_class_axis(logits, "cross_entropy")
    if weight is not None or is_floating(targets.dtype):
        return _cross_entropy_composed(logits, targets, weight, reduction, label_smoothing,
                                       ignore_index)
    rows, t, out_shape, _ = _class_rows(logits, targets, "cross_entropy", ignore_index,
                                        poison=False)
    # the kernel gives NaN for out-of-range targets and fuses the mean; float16/bfloat16
    # logits go in as they are (float32 math inside)
    loss = CrossEntropy.apply(rows, t, label_smoothing=float(label_smoothing),
                              ignore_index=int(ignore_index), mean=reduction == "mean")
    return loss if reduction == "mean" else _reduce(loss, reduction, out_shape, None)


@in_accumulation_dtype
def _cross_entropy_composed(logits: Tensor, targets: Tensor, weight: Tensor | None,
                            reduction: str, label_smoothing: float, ignore_index: int) -> Tensor:
    """cross_entropy with class weights or probability targets, from log_softmax."""
    if is_floating(targets.dtype):
        return _cross_entropy_probs(logits, targets, weight, reduction, label_smoothing)
    rows, t, out_shape, poison = _class_rows(logits, targets, "cross_entropy", ignore_index)
    logp = rows.log_softmax(-1)
    picked_weight = _picked_weight(t, weight, ignore_index, rows, "cross_entropy")
    c, weight = rows.shape[1], weight.cast(rows.dtype)
    loss = -logp[_row_index(t), _safe(t, ignore_index, c)] * picked_weight
    if label_smoothing:
        smooth = -(logp * weight.reshape(1, c)).sum(-1) * _valid(t, ignore_index, rows)
        loss = (1.0 - label_smoothing) * loss + (label_smoothing / c) * smooth
    return _reduce(_poisoned(loss, poison), reduction, out_shape, picked_weight)


def _cross_entropy_probs(logits: Tensor, probs: Tensor, weight: Tensor | None, reduction: str,
                         label_smoothing: float) -> Tensor:
    """-sum_c weight_c * q_c * log_softmax(logits)_c per sample, q the (smoothed) target."""
    if probs.shape != logits.shape:
        raise ShapeError(f"cross_entropy: targets must be integer class indices or "
                         f"probabilities of the logits' shape {tuple(logits.shape)}, got "
                         f"{probs.dtype.name} of shape {tuple(probs.shape)}")
    if not is_floating(logits.dtype):
        raise TypeError(f"cross_entropy: input must be floating point, got {logits.dtype.name}")
    axis = 1 if logits.ndim > 1 else 0
    c = logits.shape[axis]
    q = probs.cast(logits.dtype)
    if label_smoothing:
        q = q * (1.0 - label_smoothing) + label_smoothing / c
    terms = q * logits.log_softmax(axis)
    if weight is not None:
        if weight.shape != (c,):
            raise ValueError(f"cross_entropy: weight must have shape ({c},), one per class, "
                             f"got {tuple(weight.shape)}")
        terms = terms * weight.cast(logits.dtype).reshape(c, *(1,) * (logits.ndim - axis - 1))
    loss = -terms.sum(axis)
    return _reduce(loss, reduction, loss.shape, None)


@autocast_op
@in_accumulation_dtype
def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None,
             size_average: bool | None = None, ignore_index: int = -100,
             reduce: bool | None = None, reduction: str = "mean") -> Tensor:
    """-log_probs[target] per sample (log_probs (N, C) or (N, C, d1, ...)), optionally
    weighted by class; 'mean' divides by the total weight of the non-ignored targets."""
    log_probs, targets = input, target
    reduction = reduction_of(reduction, "nll_loss", size_average, reduce)
    rows, t, out_shape, poison = _class_rows(log_probs, targets, "nll_loss", ignore_index)
    picked_weight = _picked_weight(t, weight, ignore_index, rows, "nll_loss")
    loss = -rows[_row_index(t), _safe(t, ignore_index, rows.shape[1])] * picked_weight
    return _reduce(_poisoned(loss, poison), reduction, out_shape, picked_weight)


@autocast_op
@in_accumulation_dtype
def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                         size_average: bool | None = None, reduce: bool | None = None,
                         reduction: str = "mean") -> Tensor:
    """-(y log p + (1 - y) log(1 - p)) with each log clamped at -100 (PyTorch). Probabilities
    outside [0, 1] raise on the CPU and give NaN elsewhere."""
    probs, targets = input, target
    reduction = reduction_of(reduction, "binary_cross_entropy", size_average, reduce)
    targets = _same_shape(probs, targets, "binary_cross_entropy")
    outside = constant(lambda xp, p: (p < 0) | (p > 1) | (p != p), probs)
    if probs.device.type == "cpu":
        if probs.backend.checks_values and bool(outside._data.any()):
            raise ValueError(f"binary_cross_entropy: input probabilities must be in [0, 1], "
                             f"got values from {float(probs._data.min())} to "
                             f"{float(probs._data.max())}; use binary_cross_entropy_with_logits "
                             "for logits")
        outside = None
    loss = -(targets * _clamped_log(probs) + (1 - targets) * _clamped_log(1 - probs))
    loss = loss if weight is None else loss * weight.cast(probs.dtype)
    return _reduce(_poisoned(loss, outside), reduction, loss.shape, None)


@autocast_op
@in_accumulation_dtype
def binary_cross_entropy_with_logits(input: Tensor, target: Tensor,
                                     weight: Tensor | None = None,
                                     size_average: bool | None = None,
                                     reduce: bool | None = None, reduction: str = "mean",
                                     pos_weight: Tensor | None = None) -> Tensor:
    """Sigmoid + binary cross-entropy in one stable expression:
    (1 - y) x + (1 + (pos_weight - 1) y) softplus(-x)  (= max(x,0) - x y + log1p(exp(-|x|))
    without pos_weight)."""
    logits, targets = input, target
    reduction = reduction_of(reduction, "binary_cross_entropy_with_logits", size_average,
                             reduce)
    targets = _same_shape(logits, targets, "binary_cross_entropy_with_logits")
    log_weight = 1.0 if pos_weight is None else 1 + (pos_weight.cast(logits.dtype) - 1) * targets
    loss = (1 - targets) * logits + log_weight * (-logits).softplus()
    loss = loss if weight is None else loss * weight.cast(logits.dtype)
    return _reduce(loss, reduction, loss.shape, None)


@autocast_op
@in_accumulation_dtype
def mse_loss(input: Tensor, target: Tensor, size_average: bool | None = None,
             reduce: bool | None = None, reduction: str = "mean",
             weight: Tensor | None = None) -> Tensor:
    """(input - target)^2 (a target of another shape broadcasts, with PyTorch's warning);
    with an elementwise `weight`, 'mean' is sum(weight * loss) / sum(weight)."""
    reduction = reduction_of(reduction, "mse_loss", size_average, reduce)
    diff = input - _same_shape(input, target, "mse_loss", broadcast=True)
    return _weighted(diff * diff, reduction, weight, "mse_loss")


@autocast_op
@in_accumulation_dtype
def l1_loss(input: Tensor, target: Tensor, size_average: bool | None = None,
            reduce: bool | None = None, reduction: str = "mean",
            weight: Tensor | None = None) -> Tensor:
    """|input - target| (a target of another shape broadcasts, with PyTorch's warning); with
    an elementwise `weight`, 'mean' is sum(weight * loss) / sum(weight)."""
    reduction = reduction_of(reduction, "l1_loss", size_average, reduce)
    diff = input - _same_shape(input, target, "l1_loss", broadcast=True)
    return _weighted(diff.abs(), reduction, weight, "l1_loss")


@autocast_op
@in_accumulation_dtype
def smooth_l1_loss(input: Tensor, target: Tensor, size_average: bool | None = None,
                   reduce: bool | None = None, reduction: str = "mean",
                   beta: float = 1.0) -> Tensor:
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (d = input - target); beta=0 is
    L1."""
    reduction = reduction_of(reduction, "smooth_l1_loss", size_average, reduce)
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be >= 0, got {beta}")
    d = (input - _same_shape(input, target, "smooth_l1_loss", broadcast=True)).abs()
    loss = d if beta == 0 else (d < beta).where(0.5 * d * d / beta, d - 0.5 * beta)
    return _reduce(loss, reduction, loss.shape, None)


@autocast_op
@in_accumulation_dtype
def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0,
               weight: Tensor | None = None) -> Tensor:
    """0.5 d^2 where |d| <= delta, else delta (|d| - 0.5 delta) (d = input - target); an
    elementwise `weight` multiplies the loss before the reduction (a plain mean, as
    PyTorch's)."""
    reduction = reduction_of(reduction, "huber_loss")
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be > 0, got {delta}")
    d = (input - _same_shape(input, target, "huber_loss", broadcast=True)).abs()
    loss = (d <= delta).where(0.5 * d * d, delta * (d - 0.5 * delta))
    if weight is not None:
        loss = loss * _weight_like(weight, loss, "huber_loss")
    return _reduce(loss, reduction, loss.shape, None)


@autocast_op
@in_accumulation_dtype
def kl_div(input: Tensor, target: Tensor, size_average: bool | None = None,
           reduce: bool | None = None, reduction: str = "mean",
           log_target: bool = False) -> Tensor:
    """target * (log target - log_input) (0 where target is 0); log_target=True takes the
    target as log-probabilities. 'batchmean' divides the sum by the batch size (the true KL
    divergence); 'mean' (PyTorch's default) by the number of elements."""
    log_input = input
    if size_average is not None or reduce is not None:
        reduction = reduction_of(reduction, "kl_div", size_average, reduce)
    if reduction not in (*REDUCTIONS, "batchmean"):
        raise ValueError(f"kl_div: reduction must be one of {(*REDUCTIONS, 'batchmean')}, got "
                         f"{reduction!r}")
    target = _same_shape(log_input, target, "kl_div")
    if log_target:
        loss = target.exp() * (target - log_input)
    else:
        positive = target > 0
        loss = positive.where(target * (positive.where(target, 1.0).log() - log_input), 0.0)
    if reduction == "batchmean":
        return loss.sum() / (log_input.shape[0] if log_input.ndim else 1)
    return _reduce(loss, reduction, loss.shape, None)


# ---------------------------------------------------------------------- helpers
def _as_tensor(value: Any, like: Tensor) -> Tensor:
    return value if is_tensor(value) else type(like)(value, device=like.device)


def _weighted(loss: Tensor, reduction: str, weight: Tensor | None, op: str) -> Tensor:
    """loss reduced; with an elementwise weight (of loss's shape), 'mean' is
    sum(weight * loss) / sum(weight), as PyTorch's mse and l1 losses."""
    if weight is None:
        return _reduce(loss, reduction, loss.shape, None)
    weighted = loss * _weight_like(weight, loss, op)
    if reduction == "mean":
        return weighted.sum() / weight.sum()
    return _reduce(weighted, reduction, loss.shape, None)


def _weight_like(weight: Any, loss: Tensor, op: str) -> Tensor:
    weight = _as_tensor(weight, loss)
    if weight.shape != loss.shape:
        raise ValueError(f"{op}: weights and input must have the same size, got weight of shape "
                         f"{tuple(weight.shape)} for a loss of shape {tuple(loss.shape)}")
    return weight.cast(loss.dtype)


def _reduce(loss: Tensor, reduction: str, shape: tuple, weight: Tensor | None) -> Tensor:
    """'none': loss in `shape`; 'sum'; 'mean': sum / weight.sum() (or / numel); 0 / 0 is NaN,
    and where the weights sum to 0 (every target ignored) the gradient is 0, not NaN."""
    if reduction == "none":
        return loss.reshape(shape)
    total = loss.sum()
    if reduction == "sum":
        return total
    if weight is None:
        return total / loss.numel() if loss.numel() else total * math.nan
    weight_sum = weight.detach().sum()
    nothing = weight_sum == 0  # NaN the value, not the gradient: no 1 / 0 in the graph
    return nothing.where(math.nan, total / nothing.where(1.0, weight_sum))


def _poisoned(loss: Tensor, bad: Tensor | None) -> Tensor:
    """loss with NaN where the boolean tensor `bad` is set (None: unchanged)."""
    if bad is None:
        return loss
    return loss + constant(lambda xp, b: xp.where(b.reshape(loss.shape), math.nan, 0).astype(
        loss.dtype), bad)


def _same_shape(x: Tensor, target: Any, op: str, broadcast: bool = False) -> Tensor:
    """target as a tensor of x's dtype; of x's shape, or (with `broadcast`) broadcasting with
    PyTorch's warning."""
    target = _as_tensor(target, x)
    if target.shape != x.shape and broadcast:
        warnings.warn(f"{op}: Using a target size ({tuple(target.shape)}) that is different to the "
                      f"input size ({tuple(x.shape)}). This will likely lead to incorrect results "
                      f"due to broadcasting. Please ensure they have the same size.", stacklevel=3)
    elif target.shape != x.shape:
        raise ValueError(f"{op}: target shape {tuple(target.shape)} differs from input shape "
                         f"{tuple(x.shape)}; they must match (no broadcasting)")
    if not (is_floating(x.dtype) and is_floating(target.dtype)):
        raise TypeError(f"{op}: input and target must be floating point, got "
                        f"{x.dtype.name} and {target.dtype.name}")
    return target.cast(x.dtype)


def _check_class_axis(scores: Tensor, op: str) -> None:
    if scores.ndim == 0:
        raise ShapeError(f"{op}: input must have a class axis, of shape (C,), (N, C) or "
                         "(N, C, d1, ...); got a 0-d tensor")


def _class_rows(scores: Tensor, targets: Any, op: str, ignore_index: int, poison: bool = True):
    """(N*d..., C) score rows, flat int targets, the per-sample shape and, off the CPU when
    `poison`, the mask of out-of-range targets (their loss is to be NaN; else None); on the
    CPU they raise."""
    targets = _as_tensor(targets, scores)
    if not is_floating(scores.dtype):
        raise TypeError(f"{op}: input must be floating point, got {scores.dtype.name}")
    if targets.dtype.kind not in "iu":
        raise TypeError(f"{op}: targets must be integer class indices, got "
                        f"{targets.dtype.name}; convert with .long()")
    _check_class_axis(scores, op)
    if scores.ndim == 1:
        scores = scores.unsqueeze(0)
    expected = (scores.shape[0], *scores.shape[2:])
    if targets.shape != expected and not (targets.ndim == 0 and expected == (1,)):
        raise ShapeError(f"{op}: input of shape {tuple(scores.shape)} needs targets of shape "
                         f"{expected}, got {tuple(targets.shape)}")
    c = scores.shape[1]
    if scores.ndim > 2:  # classes last, then one row per sample
        scores = scores.permute(0, *range(2, scores.ndim), 1)
    rows, t = scores.reshape(-1, c), targets.reshape(-1)
    if scores.device.type != "cpu" and not poison:
        return rows, t, targets.shape, None
    bad = constant(lambda xp, i: (i != ignore_index) & ((i < 0) | (i >= c)), t)
    if scores.device.type != "cpu":
        return rows, t, targets.shape, bad
    if scores.backend.checks_values and bool(bad._data.any()):
        value = int(t._data[bad._data.nonzero()[0][0]])
        raise IndexError(f"{op}: target {value} is out of bounds for {c} classes (valid: 0 to "
                         f"{c - 1}, or ignore_index={ignore_index})")
    return rows, t, targets.shape, None


def _valid(t: Tensor, ignore_index: int, like: Tensor) -> Tensor:
    """1 where the target is not ignored, else 0, in like's dtype."""
    return constant(lambda xp, i: (i != ignore_index).astype(like.dtype), t)


def _safe(t: Tensor, ignore_index: int, classes: int) -> Tensor:
    """Targets with ignored and out-of-range ones replaced by class 0 (safe to gather)."""
    return constant(lambda xp, i: xp.where((i != ignore_index) & (i >= 0) & (i < classes), i, 0),
                    t)


def _row_index(t: Tensor) -> Tensor:
    return type(t).arange(t.shape[0], device=t.device)


def _picked_weight(t: Tensor, weight: Tensor | None, ignore_index: int, rows: Tensor,
                   op: str) -> Tensor:
    """The class weight of each sample's target, 0 for ignored samples."""
    valid = _valid(t, ignore_index, rows)
    if weight is None:
        return valid
    if weight.shape != (rows.shape[1],):
        raise ValueError(f"{op}: weight must have shape ({rows.shape[1]},), one per class, got "
                         f"{tuple(weight.shape)}")
    return weight.cast(rows.dtype)[_safe(t, ignore_index, rows.shape[1])] * valid


def _clamped_log(p: Tensor) -> Tensor:
    """log(p) clamped at -100 (so log(0) is -100, not -inf, and no warning is raised)."""
    positive = p > 0
    return positive.where(positive.where(p, 1.0).log(), -100.0).clip(min=-100.0)


# ---------------------------------------------------------------------- public names
EXPORTS = Exports(functional={
    "cross_entropy": cross_entropy, "nll_loss": nll_loss,
    "binary_cross_entropy": binary_cross_entropy,
    "binary_cross_entropy_with_logits": binary_cross_entropy_with_logits, "mse_loss": mse_loss,
    "l1_loss": l1_loss, "smooth_l1_loss": smooth_l1_loss, "huber_loss": huber_loss,
    "kl_div": kl_div,
})
